"""Delivery reports: what a platform tells later about a message it accepted.

Platforms call back asynchronously and not always in order (Twilio may post `delivered` after
`read`), so a report only ever moves a message forward: one conditional UPDATE per report,
which is also safe when two reports for one message arrive at the same time.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage

# How far along a message is. A final failure outranks sent/delivered (a message can fail
# after the platform first said "sent"), but never a read: a read message reached the person.
STATUS_RANK = {
    "sent": 1,
    "delivered": 2,
    "undelivered": 3,
    "failed": 3,
    "read": 3,
}
FAILED_STATUSES = frozenset({"failed", "undelivered"})


class ReportOutcome(StrEnum):
    RECORDED = "recorded"
    STALE = "stale"  # the message is already as far or further along
    UNKNOWN = "unknown"  # no message with that platform id on that channel
    IGNORED = "ignored"  # a status we do not track (queued, accepted, sending …)


class DeliveryReports:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self,
        channel: str,
        platform_message_id: str,
        status: str,
        *,
        at: datetime,
        error: str | None = None,
    ) -> ReportOutcome:
        """Record `status` on the outbox row the platform knows as `platform_message_id`.

        `error` (a platform error code, never a message body) is kept in last_error when the
        message failed.
        """
        status = status.strip().lower()
        rank = STATUS_RANK.get(status)
        if rank is None:
            return ReportOutcome.IGNORED
        lower = [s for s, r in STATUS_RANK.items() if r < rank]
        values: dict[str, object] = {"delivery_status": status, "delivery_updated_at": at}
        if status in FAILED_STATUSES and error:
            values["last_error"] = error[:500]
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.channel == channel,
                OutboxMessage.platform_message_id == platform_message_id,
                or_(
                    OutboxMessage.delivery_status.is_(None),
                    OutboxMessage.delivery_status.in_(lower),
                ),
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            return ReportOutcome.RECORDED
        exists = await self.session.execute(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.channel == channel,
                OutboxMessage.platform_message_id == platform_message_id,
            )
            .limit(1)
        )
        return ReportOutcome.STALE if exists.first() else ReportOutcome.UNKNOWN

    async def status_of(self, channel: str, platform_message_id: str) -> str | None:
        stmt = select(OutboxMessage.delivery_status).where(
            OutboxMessage.channel == channel,
            OutboxMessage.platform_message_id == platform_message_id,
        )
        return (await self.session.execute(stmt)).scalars().first()
