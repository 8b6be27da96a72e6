"""Polls, their options and votes.

Named polls store a Ballot per chosen option. Anonymous polls store only a Participation
(who took part) and bump per-option counters, so not even the database can tell who chose what.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Ballot, Participation, Person, Poll, PollOption
from storage.people import Audience
from storage.sql import insert_ignore

SCHEDULED, OPEN, CLOSED = "scheduled", "open", "closed"


class VoteOutcome(StrEnum):
    NEW = "new"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    ALREADY_VOTED = "already_voted"  # anonymous: a vote cannot be changed


@dataclass(frozen=True, slots=True)
class OptionCount:
    option_id: int
    position: int
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class Tally:
    options: list[OptionCount]
    participants: int


class Polls:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self,
        *,
        question: str,
        options: Sequence[str],
        multiple: bool,
        anonymous: bool,
        hide_results: bool,
        audience: Audience,
        opens_at: datetime,
        closes_at: datetime | None,
        created_by: int | None,
    ) -> Poll:
        poll = Poll(
            question=question,
            multiple=multiple,
            anonymous=anonymous,
            hide_results=hide_results,
            audience=audience.to_dict(),
            status=SCHEDULED,
            opens_at=opens_at,
            closes_at=closes_at,
            created_by=created_by,
        )
        self.session.add(poll)
        await self.session.flush()
        await self.session.execute(
            insert(PollOption),
            [
                {"poll_id": poll.id, "position": i, "label": label, "anonymous_count": 0}
                for i, label in enumerate(options, start=1)
            ],
        )
        return poll

    async def get(self, poll_id: int) -> Poll | None:
        return await self.session.get(Poll, poll_id, populate_existing=True)

    async def get_with_options(self, poll_id: int) -> tuple[Poll, list[PollOption]] | None:
        """The poll and its options in one query (the hot path of every vote)."""
        stmt = (
            select(Poll, PollOption)
            .join(PollOption, PollOption.poll_id == Poll.id)
            .where(Poll.id == poll_id)
            .order_by(PollOption.position)
            .execution_options(populate_existing=True)
        )
        rows = (await self.session.execute(stmt)).all()
        if not rows:
            return None
        return rows[0][0], [option for _, option in rows]

    async def options(self, poll_id: int) -> list[PollOption]:
        stmt = select(PollOption).where(PollOption.poll_id == poll_id).order_by(PollOption.position)
        return list((await self.session.execute(stmt)).scalars())

    async def mark_open(self, poll_id: int, audience_size: int) -> bool:
        """scheduled → open; False if another process did it first."""
        return await self._transition(poll_id, SCHEDULED, OPEN, audience_size=audience_size)

    async def mark_closed(self, poll_id: int, now: datetime) -> bool:
        """open → closed; False if it was not open (already closed, or never opened)."""
        return await self._transition(poll_id, OPEN, CLOSED, closed_at=now)

    async def mark_reminded(self, poll_id: int, now: datetime) -> bool:
        stmt = (
            update(Poll)
            .where(Poll.id == poll_id, Poll.reminder_sent_at.is_(None), Poll.status == OPEN)
            .values(reminder_sent_at=now)
            .returning(Poll.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def _transition(self, poll_id: int, old: str, new: str, **values: object) -> bool:
        stmt = (
            update(Poll)
            .where(Poll.id == poll_id, Poll.status == old)
            .values(status=new, **values)
            .returning(Poll.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def vote(
        self, poll: Poll, person_id: int, option_ids: Sequence[int], channel: str
    ) -> VoteOutcome:
        """Record a vote. The caller holds the person's conversation lock."""
        chosen = sorted(set(option_ids))
        if poll.anonymous:
            first = await insert_ignore(
                self.session,
                Participation.__table__,  # type: ignore[arg-type]
                {"poll_id": poll.id, "person_id": person_id},
                ["poll_id", "person_id"],
            )
            if not first:
                return VoteOutcome.ALREADY_VOTED
            await self.session.execute(
                update(PollOption)
                .where(PollOption.poll_id == poll.id, PollOption.id.in_(chosen))
                .values(anonymous_count=PollOption.anonymous_count + 1)
                .execution_options(synchronize_session=False)
            )
            return VoteOutcome.NEW
        before = await self.choices_of(poll.id, person_id)
        if before == chosen:
            return VoteOutcome.UNCHANGED
        if before:
            await self.session.execute(
                delete(Ballot).where(Ballot.poll_id == poll.id, Ballot.person_id == person_id)
            )
        await self.session.execute(
            insert(Ballot),
            [
                {"poll_id": poll.id, "person_id": person_id, "option_id": o, "channel": channel}
                for o in chosen
            ],
        )
        return VoteOutcome.CHANGED if before else VoteOutcome.NEW

    async def choices_of(self, poll_id: int, person_id: int) -> list[int]:
        """A named voter's current choice (never available for anonymous polls)."""
        stmt = (
            select(Ballot.option_id)
            .where(Ballot.poll_id == poll_id, Ballot.person_id == person_id)
            .order_by(Ballot.option_id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def has_voted(self, poll: Poll, person_id: int) -> bool:
        table = Participation if poll.anonymous else Ballot
        stmt = select(table.poll_id).where(table.poll_id == poll.id, table.person_id == person_id)
        return (await self.session.execute(stmt.limit(1))).first() is not None

    async def tally(self, poll: Poll, options: Sequence[PollOption] | None = None) -> Tally:
        """Counts per option and participants; pass `options` when already loaded."""
        if options is None:
            options = await self.options(poll.id)
        if poll.anonymous:
            counts = {o.id: o.anonymous_count for o in options}
            participants = await self._count(
                select(func.count()).where(Participation.poll_id == poll.id)
            )
        else:
            stmt = (
                select(Ballot.option_id, func.count())
                .where(Ballot.poll_id == poll.id)
                .group_by(Ballot.option_id)
            )
            counts = {oid: n for oid, n in await self.session.execute(stmt)}
            if poll.multiple:
                participants = await self._count(
                    select(func.count(func.distinct(Ballot.person_id))).where(
                        Ballot.poll_id == poll.id
                    )
                )
            else:  # one ballot per voter
                participants = sum(counts.values())
        return Tally(
            options=[OptionCount(o.id, o.position, o.label, counts.get(o.id, 0)) for o in options],
            participants=participants,
        )

    async def _count(self, stmt: object) -> int:
        return int((await self.session.execute(stmt)).scalar_one())  # type: ignore[call-overload]

    async def voter_ids(self, poll: Poll) -> set[int]:
        table = Participation if poll.anonymous else Ballot
        stmt = select(table.person_id).where(table.poll_id == poll.id).distinct()
        return set((await self.session.execute(stmt)).scalars())

    async def nonvoters(self, poll: Poll, audience_ids: Sequence[int]) -> list[Person]:
        voted = await self.voter_ids(poll)
        missing = [pid for pid in audience_ids if pid not in voted]
        if not missing:
            return []
        stmt = select(Person).where(Person.id.in_(missing)).order_by(Person.name)
        return list((await self.session.execute(stmt)).scalars())

    async def due_to_open(self, now: datetime) -> list[int]:
        stmt = select(Poll.id).where(Poll.status == SCHEDULED, Poll.opens_at <= now)
        return list((await self.session.execute(stmt.order_by(Poll.id))).scalars())

    async def due_to_close(self, now: datetime) -> list[int]:
        stmt = select(Poll.id).where(
            Poll.status == OPEN, Poll.closes_at.is_not(None), Poll.closes_at <= now
        )
        return list((await self.session.execute(stmt.order_by(Poll.id))).scalars())

    async def due_for_reminder(self, now: datetime, before: timedelta) -> list[int]:
        stmt = select(Poll.id).where(
            Poll.status == OPEN,
            Poll.reminder_sent_at.is_(None),
            Poll.closes_at.is_not(None),
            Poll.closes_at <= now + before,
        )
        return list((await self.session.execute(stmt.order_by(Poll.id))).scalars())

    async def recent(self, *, status: str | None = None, limit: int = 20) -> list[Poll]:
        stmt = select(Poll).order_by(Poll.id.desc()).limit(limit)
        if status:
            stmt = stmt.where(Poll.status == status)
        return list((await self.session.execute(stmt)).scalars())
