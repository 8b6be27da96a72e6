"""Polls, their options and votes.

Named polls store a Ballot per chosen option. Anonymous polls store only a Participation
(who took part) and bump per-option counters, so not even the database can tell who chose what.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.deadline import accepts
from storage.models import Ballot, Participation, Person, Poll, PollOption, utcnow
from storage.people import Audience
from storage.raw import Query, Shape
from storage.unit import Store, raw, session_of

SCHEDULED, OPEN, CLOSED = "scheduled", "open", "closed"


class VoteOutcome(StrEnum):
    NEW = "new"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    ALREADY_VOTED = "already_voted"  # anonymous: a vote cannot be changed
    CLOSED = "closed"  # past its closing time or closed: nothing was recorded


@dataclass(frozen=True, slots=True)
class OptionCount:
    option_id: int
    position: int
    label: str
    count: int
    label_en: str | None = None


@dataclass(frozen=True, slots=True)
class Tally:
    options: list[OptionCount]
    participants: int


_POLL = Shape.of(Poll.__table__)  # type: ignore[arg-type]
_OPTION = Shape.of(PollOption.__table__)  # type: ignore[arg-type]
_FOR_VOTER = (
    f"SELECT {_POLL.select_list}, (SELECT string_agg(CAST(option_id AS TEXT), ',') FROM ballots"
    " WHERE poll_id = $1 AND person_id = $2) FROM polls WHERE id = $1"
)
_POLL_FOR_VOTER = Query(
    _FOR_VOTER,
    params=(None, None),
    columns=(*_POLL.types, None),
    sqlite=_FOR_VOTER.replace("string_agg(", "group_concat("),
)
_OPTIONS_OF = Query(
    f"SELECT {_OPTION.select_list} FROM poll_options WHERE poll_id = $1 ORDER BY position",
    (None,),
    _OPTION.types,
)
# Per (poll id, created_at): ids can come back after a restore, creation times do not.
_OPTIONS: dict[tuple[int, datetime], tuple[PollOption, ...]] = {}
_OPTIONS_KEPT = 256
_TAKE_PART = Query(
    "INSERT INTO participations (poll_id, person_id) VALUES ($1, $2) "
    "ON CONFLICT (poll_id, person_id) DO NOTHING RETURNING poll_id"
)
# Every option of the poll is rewritten, the chosen one counted: on PostgreSQL each row version
# carries the id of the transaction that wrote it (xmin), as does the voter's participation
# row, so rewriting only the chosen option would leave on it the last person who chose it.
# Now every option names the same last voter, who is known to have voted anyway.
_COUNT_ANONYMOUS = Query(
    "UPDATE poll_options SET anonymous_count = anonymous_count"
    " + CASE WHEN id = $2 THEN 1 ELSE 0 END WHERE poll_id = $1"
)
_CHOICES = Query(
    "SELECT option_id FROM ballots WHERE poll_id = $1 AND person_id = $2 ORDER BY option_id"
)
_WITHDRAW = Query("DELETE FROM ballots WHERE poll_id = $1 AND person_id = $2")
_BALLOT_COUNTS = Query(
    "SELECT option_id, count(*) FROM ballots WHERE poll_id = $1 GROUP BY option_id"
)
_CAST_AND_COUNT = Query(
    "WITH added AS (INSERT INTO ballots (poll_id, person_id, option_id, channel, cast_at)"
    " VALUES ($1, $2, $3, $4, $5) RETURNING option_id)"
    " SELECT option_id, count(*) FROM (SELECT option_id FROM ballots WHERE poll_id = $1"
    " UNION ALL SELECT option_id FROM added) AS b GROUP BY option_id",
    params=(None, None, None, None, Ballot.__table__.c.cast_at.type),
)
_VOTERS = Query("SELECT count(DISTINCT person_id) FROM ballots WHERE poll_id = $1")
_ANONYMOUS_COUNTS = Query("SELECT id, anonymous_count FROM poll_options WHERE poll_id = $1")
_PARTICIPANTS = Query("SELECT count(*) FROM participations WHERE poll_id = $1")


def _tally(options: Sequence[PollOption], counts: dict[int, int], participants: int) -> Tally:
    return Tally(
        options=[
            OptionCount(o.id, o.position, o.label, counts.get(o.id, 0), o.label_en) for o in options
        ],
        participants=int(participants),
    )


class Polls:
    def __init__(self, store: Store) -> None:
        # Votes and tallies run on the driver connection and need no ORM session; the rest
        # of the repository uses the session (made on first use in an event's Unit).
        self.store = store
        # for_voter's answers in this event: a typed vote asks it once to see whether the
        # poll can take the answer and again to cast it. Any write through this repository
        # forgets them.
        self._for_voter: dict[tuple[int, int], tuple[Poll, list[PollOption], list[int]]] = {}

    @property
    def session(self) -> AsyncSession:
        return session_of(self.store)

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
        question_en: str | None = None,
        options_en: Sequence[str] | None = None,
    ) -> Poll:
        poll = Poll(
            question=question,
            question_en=question_en,
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
                {
                    "poll_id": poll.id,
                    "position": i,
                    "label": label,
                    "label_en": options_en[i - 1] if options_en else None,
                    "anonymous_count": 0,
                }
                for i, label in enumerate(options, start=1)
            ],
        )
        return poll

    async def get(self, poll_id: int) -> Poll | None:
        return await self.session.get(Poll, poll_id, populate_existing=True)

    async def for_voter(
        self, poll_id: int, person_id: int
    ) -> tuple[Poll, list[PollOption], list[int]] | None:
        """The poll as it is now, its options, and the person's current choice (option ids;
        always empty for an anonymous poll): the hot path of every vote, one statement on the
        driver connection. The options never change once created, so they are kept per
        process, and their `anonymous_count` is not current (`tally` reads the counts). Poll
        and options are snapshots outside the session: change a poll through the methods here.
        """
        known = self._for_voter.get((poll_id, person_id))
        if known is not None:
            return known[0], list(known[1]), list(known[2])
        sql = await raw(self.store)
        row = await sql.fetchrow(_POLL_FOR_VOTER, poll_id, person_id)
        if row is None:
            return None
        poll = Poll(**_POLL.values(row))
        key = (poll.id, poll.created_at)
        options = _OPTIONS.get(key)
        if options is None:
            rows = await sql.fetch(_OPTIONS_OF, poll_id)
            options = tuple(PollOption(**_OPTION.values(r)) for r in rows)
            if len(_OPTIONS) >= _OPTIONS_KEPT:
                _OPTIONS.clear()
            _OPTIONS[key] = options
        chosen = row[-1]
        found = poll, list(options), sorted(int(o) for o in chosen.split(",")) if chosen else []
        self._for_voter[(poll_id, person_id)] = found
        return found[0], list(found[1]), list(found[2])

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
        self._for_voter.clear()
        stmt = (
            update(Poll)
            .where(Poll.id == poll_id, Poll.reminder_sent_at.is_(None), Poll.status == OPEN)
            .values(reminder_sent_at=now)
            .returning(Poll.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def _transition(self, poll_id: int, old: str, new: str, **values: object) -> bool:
        self._for_voter.clear()
        stmt = (
            update(Poll)
            .where(Poll.id == poll_id, Poll.status == old)
            .values(status=new, **values)
            .returning(Poll.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def vote(
        self,
        poll: Poll,
        person_id: int,
        option_ids: Sequence[int],
        channel: str,
        *,
        now: datetime,
        before: Sequence[int] | None = None,
    ) -> VoteOutcome:
        """Record a vote. The caller holds the person's conversation lock; `before` is the
        person's current choice when the caller read it under that lock (`for_voter`).

        `poll` as read in this transaction (`for_voter`); `now` the event's time. Past the
        closing time nothing is recorded (CLOSED), even before the scheduler closed it."""
        self._for_voter.clear()
        if not accepts(poll.status, poll.closes_at, now):
            return VoteOutcome.CLOSED
        chosen = sorted(set(option_ids))
        sql = await raw(self.store)
        if poll.anonymous:
            if await sql.fetchrow(_TAKE_PART, poll.id, person_id) is None:
                return VoteOutcome.ALREADY_VOTED
            for option_id in chosen:
                await sql.execute(_COUNT_ANONYMOUS, poll.id, option_id)
            return VoteOutcome.NEW
        if before is None:
            before = await self.choices_of(poll.id, person_id)
        if list(before) == chosen:
            return VoteOutcome.UNCHANGED
        if before:
            await sql.execute(_WITHDRAW, poll.id, person_id)
        await sql.insert(
            Ballot.__table__,  # type: ignore[arg-type]
            [
                {"poll_id": poll.id, "person_id": person_id, "option_id": o, "channel": channel}
                for o in chosen
            ],
        )
        return VoteOutcome.CHANGED if before else VoteOutcome.NEW

    async def vote_and_tally(
        self,
        poll: Poll,
        person_id: int,
        option_ids: Sequence[int],
        channel: str,
        options: Sequence[PollOption],
        *,
        now: datetime,
        before: Sequence[int],
    ) -> tuple[VoteOutcome, Tally]:
        """`vote`, then `tally` (live results). A new single choice in a named poll on
        PostgreSQL is one statement: the ballot's INSERT in a CTE, counted with the ballots
        already there (a CTE's rows are not in the statement's snapshot, so none twice)."""
        self._for_voter.clear()
        chosen = sorted(set(option_ids))
        sql = await raw(self.store)
        if not accepts(poll.status, poll.closes_at, now):
            return VoteOutcome.CLOSED, await self.tally(poll, options)
        if poll.anonymous or poll.multiple or len(chosen) != 1 or not sql.is_postgres:
            outcome = await self.vote(poll, person_id, chosen, channel, now=now, before=before)
            return outcome, await self.tally(poll, options)
        if list(before) == chosen:
            return VoteOutcome.UNCHANGED, await self.tally(poll, options)
        if before:
            await sql.execute(_WITHDRAW, poll.id, person_id)
        rows = await sql.fetch(_CAST_AND_COUNT, poll.id, person_id, chosen[0], channel, utcnow())
        counts = {r[0]: r[1] for r in rows}
        outcome = VoteOutcome.CHANGED if before else VoteOutcome.NEW
        return outcome, _tally(options, counts, sum(counts.values()))

    async def choices_of(self, poll_id: int, person_id: int) -> list[int]:
        """A named voter's current choice (never available for anonymous polls)."""
        rows = await (await raw(self.store)).fetch(_CHOICES, poll_id, person_id)
        return [r[0] for r in rows]

    async def has_voted(self, poll: Poll, person_id: int) -> bool:
        table = Participation if poll.anonymous else Ballot
        stmt = select(table.poll_id).where(table.poll_id == poll.id, table.person_id == person_id)
        return (await self.session.execute(stmt.limit(1))).first() is not None

    async def tally(self, poll: Poll, options: Sequence[PollOption] | None = None) -> Tally:
        """Counts per option and participants, as committed plus this transaction's changes;
        pass `options` when already loaded (only their ids, positions and labels are used)."""
        if options is None:
            options = await self.options(poll.id)
        sql = await raw(self.store)
        if poll.anonymous:
            counts = {r[0]: r[1] for r in await sql.fetch(_ANONYMOUS_COUNTS, poll.id)}
            participants = (await sql.fetch(_PARTICIPANTS, poll.id))[0][0]
        else:
            counts = {r[0]: r[1] for r in await sql.fetch(_BALLOT_COUNTS, poll.id)}
            if poll.multiple:
                participants = (await sql.fetch(_VOTERS, poll.id))[0][0]
            else:  # one ballot per voter
                participants = sum(counts.values())
        return _tally(options, counts, participants)

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
