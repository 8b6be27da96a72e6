"""What people do with a broadcast — feedback, "gelezen", replies, reactions — and opt-outs.

Feedback and "gelezen" live on the person's broadcast_recipients row, so each counts once per
person; feedback may be changed. Reactions are keyed (broadcast, person, reaction): a platform
that reports add, remove, add again changes the count by one at most. The callers of the
per-person methods hold that person's conversation lock (the engine takes it for every event).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.broadcast_models import (
    Broadcast,
    BroadcastOptOut,
    BroadcastReaction,
    BroadcastRecipient,
    BroadcastReply,
)
from storage.broadcasts import OPTED_OUT, QUEUED, Broadcasts
from storage.models import ChannelAccount, OutboxMessage, PollTarget
from storage.sql import insert_ignore

USEFUL, NOT_USEFUL = "useful", "not_useful"
MAX_REPLY = 2000
MAX_REACTION = 64


class Answer(StrEnum):
    NEW = "new"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    NOT_RECIPIENT = "not_recipient"


class ReactionOutcome(StrEnum):
    RECORDED = "recorded"
    REMOVED = "removed"
    UNCHANGED = "unchanged"  # already counted (or already removed)
    UNKNOWN = "unknown"  # not a broadcast message we sent on that channel
    IGNORED = "ignored"  # someone else than the recipient, or a cancelled broadcast


@dataclass(frozen=True, slots=True)
class Recipient:
    broadcast_id: int
    person_id: int
    feedback: str | None
    acknowledged: bool


class Responses:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def recipient(self, broadcast_id: int, person_id: int) -> Recipient | None:
        """The person's row if the broadcast was queued for them (not opted out)."""
        r = BroadcastRecipient
        stmt = select(r.feedback, r.acknowledged_at).where(
            r.broadcast_id == broadcast_id, r.person_id == person_id, r.state == QUEUED
        )
        row = (await self.session.execute(stmt)).first()
        if row is None:
            return None
        return Recipient(broadcast_id, person_id, row[0], row[1] is not None)

    async def feedback(
        self, broadcast_id: int, person_id: int, value: str, now: datetime
    ) -> Answer:
        if value not in (USEFUL, NOT_USEFUL):
            raise ValueError(value)
        current = await self.recipient(broadcast_id, person_id)
        if current is None:
            return Answer.NOT_RECIPIENT
        if current.feedback == value:
            return Answer.UNCHANGED
        await self._set(broadcast_id, person_id, feedback=value, feedback_at=now)
        return Answer.NEW if current.feedback is None else Answer.CHANGED

    async def acknowledge(self, broadcast_id: int, person_id: int, now: datetime) -> Answer:
        current = await self.recipient(broadcast_id, person_id)
        if current is None:
            return Answer.NOT_RECIPIENT
        if current.acknowledged:
            return Answer.UNCHANGED
        await self._set(broadcast_id, person_id, acknowledged_at=now)
        return Answer.NEW

    async def _set(self, broadcast_id: int, person_id: int, **values: object) -> None:
        await self.session.execute(
            update(BroadcastRecipient)
            .where(
                BroadcastRecipient.broadcast_id == broadcast_id,
                BroadcastRecipient.person_id == person_id,
            )
            .values(**values)
        )

    async def add_reply(
        self, broadcast_id: int, person_id: int, channel: str, text: str, now: datetime
    ) -> None:
        self.session.add(
            BroadcastReply(
                broadcast_id=broadcast_id,
                person_id=person_id,
                channel=channel,
                text=text[:MAX_REPLY],
                created_at=now,
            )
        )

    async def replies(self, broadcast_id: int) -> list[BroadcastReply]:
        stmt = (
            select(BroadcastReply)
            .where(BroadcastReply.broadcast_id == broadcast_id)
            .order_by(BroadcastReply.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def record_reaction(
        self,
        channel: str,
        platform_message_id: str,
        reaction: str,
        *,
        account: str | None = None,
        added: bool = True,
        now: datetime,
    ) -> ReactionOutcome:
        """A platform reaction on a broadcast message, channel-agnostic.

        `platform_message_id` is what the adapter's SendResult recorded for the message
        (Slack "channel:ts", the Teams activity id); `account` the platform id of whoever
        reacted, checked against the recipient when given (a 1:1 chat has only them and us).
        """
        name = reaction.strip().lower()[:MAX_REACTION]
        if not name or not platform_message_id:
            return ReactionOutcome.UNKNOWN
        r = BroadcastRecipient
        stmt = (
            select(r.broadcast_id, r.person_id, Broadcast.status)
            .join(OutboxMessage, OutboxMessage.id == r.outbox_id)
            .join(Broadcast, Broadcast.id == r.broadcast_id)
            .where(
                OutboxMessage.channel == channel,
                OutboxMessage.platform_message_id == platform_message_id,
            )
            .limit(1)
        )
        found = (await self.session.execute(stmt)).first()
        if found is None:
            return ReactionOutcome.UNKNOWN
        broadcast_id, person_id, status = found
        if status == "cancelled":
            return ReactionOutcome.IGNORED
        if account is not None:
            who = await self.session.execute(
                select(ChannelAccount.person_id).where(
                    ChannelAccount.channel == channel, ChannelAccount.platform_id == account
                )
            )
            if who.scalar_one_or_none() != person_id:
                return ReactionOutcome.IGNORED
        key = {"broadcast_id": broadcast_id, "person_id": person_id, "reaction": name}
        if not added:
            gone = await self.session.execute(
                delete(BroadcastReaction)
                .where(*(getattr(BroadcastReaction, k) == v for k, v in key.items()))
                .returning(BroadcastReaction.reaction)
            )
            return ReactionOutcome.REMOVED if gone.first() else ReactionOutcome.UNCHANGED
        new = await insert_ignore(
            self.session,
            BroadcastReaction.__table__,  # type: ignore[arg-type]
            {**key, "channel": channel, "created_at": now},
            ["broadcast_id", "person_id", "reaction"],
        )
        return ReactionOutcome.RECORDED if new else ReactionOutcome.UNCHANGED

    # --- opt-outs ---------------------------------------------------------------------------

    async def opted_out(self, person_id: int) -> bool:
        return await self.session.get(BroadcastOptOut, person_id) is not None

    async def opt_out(self, person_id: int, channel: str | None, now: datetime) -> bool:
        """Unsubscribe; messages of broadcasts still waiting for the worker are withdrawn.
        False when the person had already opted out."""
        new = await insert_ignore(
            self.session,
            BroadcastOptOut.__table__,  # type: ignore[arg-type]
            {"person_id": person_id, "since": now, "channel": channel},
            ["person_id"],
        )
        await Broadcasts(self.session).withdraw(state=OPTED_OUT, person_id=person_id)
        return new

    async def opt_in(self, person_id: int) -> bool:
        """Subscribe again; False when the person had not opted out."""
        gone = await self.session.execute(
            delete(BroadcastOptOut)
            .where(BroadcastOptOut.person_id == person_id)
            .returning(BroadcastOptOut.person_id)
        )
        return gone.first() is not None

    # --- targets for the stats -----------------------------------------------------------

    async def set_target(
        self, poll_id: int, percent: int, set_by: int | None, now: datetime
    ) -> None:
        existing = await self.session.get(PollTarget, poll_id)
        if existing is None:
            self.session.add(PollTarget(poll_id=poll_id, target=percent, set_by=set_by, set_at=now))
        else:
            existing.target, existing.set_by, existing.set_at = percent, set_by, now

    async def targets(self) -> dict[int, int]:
        stmt = select(PollTarget.poll_id, PollTarget.target)
        return {pid: target for pid, target in await self.session.execute(stmt)}
