"""Broadcasts: creation and edits, the start when due, cancelling, and reminders.

Every change of status is a conditional UPDATE, so several processes may tick at once and a
broadcast still starts once and never early. Queueing the recipients in batches is in
storage/broadcast_queue.py, the counts in storage/broadcast_status.py, and what people did
with a broadcast (feedback, "gelezen", replies, reactions) and opt-outs in
storage/broadcast_responses.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.broadcast_models import (
    Broadcast,
    BroadcastOptOut,
    BroadcastRecipient,
)
from storage.models import ChannelAccount, OutboxMessage, Person
from storage.outbox import CLAIMED, HELD, PENDING, SENDING, SENT
from storage.people import Audience

SCHEDULED, SENDING_STATUS, DONE, CANCELLED = "scheduled", "sending", "sent", "cancelled"
QUEUED, OPTED_OUT, UNREACHABLE, WITHDRAWN = "queued", "opted_out", "unreachable", "withdrawn"
CHANNELS = ("slack", "teams", "whatsapp", "web", "console")
CHUNK = 500
# Delivery errors (outbox.last_error, as the adapters word them) that mean "this person cannot
# be reached there" rather than a failure of the platform: counted as unreachable, with the
# reason. First match wins. Teams without Graph installation: adapters/teams.py; not in the
# directory when installing through Graph: adapters/teams_graph.py.
UNREACHABLE_ERRORS = {
    "teams_not_installed": "no Teams conversation reference%",
    "teams_not_in_directory": "unreachable on Teams: not in the directory%",
    "unreachable": "unreachable%",
}


class CancelOutcome(StrEnum):
    CANCELLED = "cancelled"
    NOT_FOUND = "not_found"
    ALREADY_CANCELLED = "already_cancelled"
    ALREADY_SENT = "already_sent"  # everything went out: nothing left to stop


def people_filter(audience: Audience, channel: str | None) -> list[ColumnElement[bool]]:
    """Who a broadcast is for: the same rule as People.audience_ids (case-insensitive segment,
    forgotten people excluded) and, with a channel filter, an account on that channel."""
    conds: list[ColumnElement[bool]] = [Person.forgotten_at.is_(None)]
    if audience.department:
        conds.append(func.lower(Person.department) == audience.department.lower())
    if audience.location:
        conds.append(func.lower(Person.location) == audience.location.lower())
    if channel is not None:
        conds.append(
            exists().where(ChannelAccount.person_id == Person.id, ChannelAccount.channel == channel)
        )
    return conds


class Broadcasts:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self,
        *,
        text: str,
        image_id: str | None,
        audience: Audience,
        channel: str | None,
        scheduled_at: datetime,
        acknowledge: bool,
        remind_after: timedelta | None,
        created_by: int | None,
        now: datetime,
        text_en: str | None = None,
    ) -> Broadcast:
        broadcast = Broadcast(
            text=text,
            text_en=text_en,
            image_id=image_id,
            audience=audience.to_dict(),
            channel=channel,
            status=SCHEDULED,
            scheduled_at=scheduled_at,
            expanded_through=0,
            audience_size=0,
            acknowledge=acknowledge,
            remind_after_minutes=_minutes(remind_after) if acknowledge else None,
            created_by=created_by,
            created_at=now,
        )
        self.session.add(broadcast)
        await self.session.flush()
        return broadcast

    async def get(self, broadcast_id: int) -> Broadcast | None:
        return await self.session.get(Broadcast, broadcast_id, populate_existing=True)

    async def edit(
        self,
        broadcast_id: int,
        *,
        text: str,
        image_id: str | None,
        audience: Audience,
        channel: str | None,
        scheduled_at: datetime,
        acknowledge: bool,
        remind_after: timedelta | None,
        now: datetime,
        text_en: str | None = None,
    ) -> bool:
        """Change a broadcast that has not started; False once it is sending (or cancelled)."""
        stmt = (
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.status == SCHEDULED)
            .values(
                text=text,
                text_en=text_en,
                image_id=image_id,
                audience=audience.to_dict(),
                channel=channel,
                scheduled_at=scheduled_at,
                acknowledge=acknowledge,
                remind_after_minutes=_minutes(remind_after) if acknowledge else None,
                updated_at=now,
            )
            .returning(Broadcast.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def recent(self, *, created_by: int | None = None, limit: int = 20) -> list[Broadcast]:
        stmt = select(Broadcast).order_by(Broadcast.id.desc()).limit(limit)
        if created_by is not None:
            stmt = stmt.where(Broadcast.created_by == created_by)
        return list((await self.session.execute(stmt)).scalars())

    async def due(self, now: datetime) -> list[int]:
        stmt = select(Broadcast.id).where(
            Broadcast.status == SCHEDULED, Broadcast.scheduled_at <= now
        )
        return list((await self.session.execute(stmt.order_by(Broadcast.id))).scalars())

    async def in_progress(self) -> list[int]:
        stmt = select(Broadcast.id).where(Broadcast.status == SENDING_STATUS)
        return list((await self.session.execute(stmt.order_by(Broadcast.id))).scalars())

    async def start(self, broadcast_id: int, now: datetime) -> bool:
        """scheduled → sending, only when due; False if not due or another process did it."""
        stmt = (
            update(Broadcast)
            .where(
                Broadcast.id == broadcast_id,
                Broadcast.status == SCHEDULED,
                Broadcast.scheduled_at <= now,
            )
            .values(status=SENDING_STATUS, started_at=now)
            .returning(Broadcast.audience, Broadcast.channel)
        )
        row = (await self.session.execute(stmt)).first()
        if row is None:
            return False
        size = await self._count_people(Audience.from_dict(row[0]), row[1])
        await self.session.execute(
            update(Broadcast).where(Broadcast.id == broadcast_id).values(audience_size=size)
        )
        return True

    async def estimate(self, audience: Audience, channel: str | None) -> int:
        """How many people a broadcast would reach now (its audience, minus opt-outs)."""
        stmt = (
            select(func.count())
            .select_from(Person)
            .where(
                *people_filter(audience, channel),
                ~exists().where(BroadcastOptOut.person_id == Person.id),
            )
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def channels_in_use(self) -> list[str]:
        stmt = select(ChannelAccount.channel).distinct().order_by(ChannelAccount.channel)
        return [c for c in (await self.session.execute(stmt)).scalars() if c in CHANNELS]

    async def lock_sending(self, broadcast_id: int) -> Broadcast | None:
        """The broadcast, locked for this transaction, if it is sending and nobody else holds
        it (another process expanding it is skipped, not waited for)."""
        stmt = (
            select(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.status == SENDING_STATUS)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def _count_people(self, audience: Audience, channel: str | None) -> int:
        stmt = select(func.count()).select_from(Person).where(*people_filter(audience, channel))
        return int((await self.session.execute(stmt)).scalar_one())

    async def cancel(self, broadcast_id: int, now: datetime) -> tuple[CancelOutcome, int]:
        """Stop a broadcast: what the worker has not taken yet is withdrawn (a message being
        sent at this very moment still goes). Returns the outcome and how many were withdrawn."""
        broadcast = await self.get(broadcast_id)
        if broadcast is None:
            return CancelOutcome.NOT_FOUND, 0
        if broadcast.status == CANCELLED:
            return CancelOutcome.ALREADY_CANCELLED, 0
        if broadcast.status == DONE and not await self.unsent(broadcast_id):
            return CancelOutcome.ALREADY_SENT, 0
        stmt = (
            update(Broadcast)
            .where(
                Broadcast.id == broadcast_id,
                Broadcast.status.in_((SCHEDULED, SENDING_STATUS, DONE)),
            )
            .values(status=CANCELLED, cancelled_at=now)
            .returning(Broadcast.id)
        )
        if (await self.session.execute(stmt)).first() is None:
            return CancelOutcome.ALREADY_CANCELLED, 0
        broadcast.status = CANCELLED
        withdrawn = await self.withdraw(broadcast_id=broadcast_id)
        return CancelOutcome.CANCELLED, len(withdrawn)

    async def unsent(self, broadcast_id: int, *, held: bool = True) -> int:
        """Messages of the broadcast still waiting for the worker (and, with `held`, the ones
        WhatsApp holds until the person writes)."""
        waiting = (PENDING, CLAIMED, SENDING, HELD) if held else (PENDING, CLAIMED, SENDING)
        stmt = (
            select(func.count())
            .select_from(BroadcastRecipient)
            .join(OutboxMessage, OutboxMessage.id == BroadcastRecipient.outbox_id)
            .where(
                BroadcastRecipient.broadcast_id == broadcast_id,
                OutboxMessage.status.in_(waiting),
            )
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def withdraw(self, *, state: str = WITHDRAWN, **where: int) -> list[tuple[int, int]]:
        """Delete unsent broadcast messages (by broadcast_id= or person_id=) that no worker
        has taken, and mark their recipients; returns (broadcast id, person id) of each.

        The rows are locked first: a worker's claim (SKIP LOCKED) passes them by, and a row
        a worker claimed before is `sending` and stays. So nothing is withdrawn and sent."""
        r, o = BroadcastRecipient, OutboxMessage
        stmt = (
            select(o.id, r.broadcast_id, r.person_id)
            .join(r, r.outbox_id == o.id)
            .where(o.status.in_((PENDING, HELD)))
            .with_for_update(of=o)
        )
        for column, value in where.items():
            stmt = stmt.where(getattr(r, column) == value)
        rows = [(oid, bid, pid) for oid, bid, pid in await self.session.execute(stmt)]
        if not rows:
            return []
        # Recipients first: deleting the outbox row sets their outbox_id to NULL.
        await self.session.execute(
            update(r),
            [
                {"broadcast_id": b, "person_id": p, "state": state, "outbox_id": None}
                for _, b, p in rows
            ],
        )
        for start in range(0, len(rows), CHUNK):
            ids = [oid for oid, _, _ in rows[start : start + CHUNK]]
            await self.session.execute(
                delete(o).where(o.id.in_(ids)).execution_options(synchronize_session=False)
            )
        return [(b, p) for _, b, p in rows]

    async def reminders_due(self, now: datetime) -> list[Broadcast]:
        """Broadcasts with "gelezen" whose one reminder is due and not finished yet."""
        stmt = select(Broadcast).where(
            Broadcast.status == DONE,
            Broadcast.acknowledge.is_(True),
            Broadcast.remind_after_minutes.is_not(None),
            Broadcast.reminder_sent_at.is_(None),
        )
        return [
            b
            for b in (await self.session.execute(stmt.order_by(Broadcast.id))).scalars()
            if b.started_at and b.started_at + timedelta(minutes=b.remind_after_minutes or 0) <= now
        ]

    async def claim_reminders(self, broadcast_id: int, now: datetime, limit: int) -> list[int]:
        """The next people to remind (their message went out, no "gelezen", not opted out
        since), marked as reminded in the same statement, so nobody is reminded twice."""
        r = BroadcastRecipient
        pick = (
            select(r.person_id)
            .join(OutboxMessage, OutboxMessage.id == r.outbox_id)
            .where(
                r.broadcast_id == broadcast_id,
                r.state == QUEUED,
                r.acknowledged_at.is_(None),
                r.reminded_at.is_(None),
                OutboxMessage.status == SENT,
                ~exists().where(BroadcastOptOut.person_id == r.person_id),
            )
            .order_by(r.person_id)
            .limit(limit)
            .with_for_update(of=r, skip_locked=True)
        )
        stmt = (
            update(r)
            .where(r.broadcast_id == broadcast_id, r.person_id.in_(pick.scalar_subquery()))
            .where(r.reminded_at.is_(None))
            .values(reminded_at=now)
            .returning(r.person_id)
            .execution_options(synchronize_session=False)
        )
        return sorted((await self.session.execute(stmt)).scalars())

    async def reminders_finished(self, broadcast_id: int, now: datetime) -> bool:
        stmt = (
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.reminder_sent_at.is_(None))
            .values(reminder_sent_at=now)
            .returning(Broadcast.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def image_ids(self) -> set[str]:
        """Images of broadcasts, which the media purge must keep."""
        stmt = select(Broadcast.image_id).where(Broadcast.image_id.is_not(None)).distinct()
        return {i for i in (await self.session.execute(stmt)).scalars() if i}


def _minutes(delta: timedelta | None) -> int | None:
    return None if delta is None else max(1, round(delta.total_seconds() / 60))
