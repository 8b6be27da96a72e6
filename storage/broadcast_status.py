"""How far a broadcast got: counted from its recipients' rows and their outbox rows.

`sent` counts every message a platform accepted (also those later delivered or read),
`delivered` includes `read`; a message whose platform reported failure after accepting it
counts as failed. A Teams person the app was never installed for is unreachable (with that
reason), not failed: nothing could have been sent to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.broadcast_models import (
    Broadcast,
    BroadcastReaction,
    BroadcastRecipient,
    BroadcastReply,
)
from storage.broadcasts import (
    CANCELLED,
    DONE,
    OPTED_OUT,
    UNREACHABLE,
    UNREACHABLE_ERRORS,
    WITHDRAWN,
)
from storage.models import OutboxMessage
from storage.outbox import FAILED, HELD, SENT, UNDELIVERED


@dataclass
class Status:
    """What happened to a broadcast so far. `sent` counts every message the platform accepted
    (delivered and read ones too); `delivered` includes `read`."""

    id: int
    status: str
    audience_size: int = 0
    recipients: int = 0
    queued: int = 0
    held: int = 0
    sent: int = 0
    delivered: int = 0
    read: int = 0
    failed: int = 0
    opted_out: int = 0
    unreachable: int = 0
    cancelled: int = 0
    reactions: int = 0
    useful: int = 0
    not_useful: int = 0
    acknowledged: int = 0
    replies: int = 0
    unreachable_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        """Nothing more will happen: all queued, nothing waiting for the worker."""
        return self.status in (DONE, CANCELLED) and self.queued == 0

    @property
    def processed(self) -> int:
        return self.recipients - self.queued

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "done": self.done,
            "audience_size": self.audience_size,
            "recipients": self.recipients,
            "queued": self.queued,
            "held": self.held,
            "sent": self.sent,
            "delivered": self.delivered,
            "read": self.read,
            "failed": self.failed,
            "opted_out": self.opted_out,
            "unreachable": self.unreachable,
            "unreachable_reasons": self.unreachable_reasons,
            "cancelled": self.cancelled,
            "reactions": self.reactions,
            "feedback": {"useful": self.useful, "not_useful": self.not_useful},
            "acknowledged": self.acknowledged,
            "replies": self.replies,
        }


async def broadcast_status(session: AsyncSession, broadcast_id: int) -> Status | None:
    """Counts from the recipients' rows and their outbox rows, in a few grouped queries."""
    broadcast = await session.get(Broadcast, broadcast_id, populate_existing=True)
    if broadcast is None:
        return None
    out = Status(id=broadcast.id, status=broadcast.status, audience_size=broadcast.audience_size)
    r, o = BroadcastRecipient, OutboxMessage
    why = case(
        *((o.last_error.like(pattern), reason) for reason, pattern in UNREACHABLE_ERRORS.items()),
        else_=None,
    ).label("why")
    stmt = (
        select(r.state, r.reason, o.status, o.delivery_status, why, func.count())
        .outerjoin(o, o.id == r.outbox_id)
        .where(r.broadcast_id == broadcast_id)
        .group_by(r.state, r.reason, o.status, o.delivery_status, why)
    )
    for state, reason, status, delivery, cause, n in await session.execute(stmt):
        out.recipients += n
        if state == OPTED_OUT:
            out.opted_out += n
        elif state == WITHDRAWN:
            out.cancelled += n
        elif state == UNREACHABLE or (cause and status == FAILED):
            out.unreachable += n
            key = reason or cause or "unknown"
            out.unreachable_reasons[key] = out.unreachable_reasons.get(key, 0) + n
        elif status in UNDELIVERED:
            out.queued += n
        elif status == HELD:
            out.held += n
        elif status == FAILED or delivery in ("failed", "undelivered"):
            out.failed += n
        elif status == SENT:
            out.sent += n
            out.delivered += n if delivery in ("delivered", "read") else 0
            out.read += n if delivery == "read" else 0
    feedback = select(r.feedback, func.count()).where(
        r.broadcast_id == broadcast_id, r.feedback.is_not(None)
    )
    counts = {value: n for value, n in await session.execute(feedback.group_by(r.feedback))}
    out.useful, out.not_useful = counts.get("useful", 0), counts.get("not_useful", 0)
    out.acknowledged = await _count(
        session,
        select(func.count()).where(r.broadcast_id == broadcast_id, r.acknowledged_at.is_not(None)),
    )
    out.replies = await _count(
        session, select(func.count()).where(BroadcastReply.broadcast_id == broadcast_id)
    )
    out.reactions = await _count(
        session, select(func.count()).where(BroadcastReaction.broadcast_id == broadcast_id)
    )
    return out


async def _count(session: AsyncSession, stmt: Any) -> int:
    return int((await session.execute(stmt)).scalar_one())
