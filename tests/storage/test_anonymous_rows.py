"""Rows of tables that hold anonymous acts: random ids and dates only to the day.

A sequential id, or a time of day, tells when a row came in; that order can be matched to the
rows that do name the person (the confirmation in the outbox, the participation). So every
row of such a table gets a random id, named rows too (on SQLite a row without an id gets the
largest so far plus one: right after the latest anonymous row), and an anonymous row keeps
no time finer than a day.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, select, text

from bot.engine import Engine
from bot.messages import PAYLOAD_JOIN
from dialogs.poll import vote_payload
from storage.models import (
    Base,
    Nomination,
    OpenAnswer,
    OpenQuestion,
    PollOption,
    Report,
    ReportNote,
    ReportPhoto,
)
from storage.nominations import Nominations, Nominator
from storage.people import Audience
from storage.questions import Questions
from storage.reports import ANONYMOUS, HIDDEN, NAMED, NewPhoto, Reports, new_code
from storage.reseal import reseal
from tests.support.org import Org
from tests.support.polls import create_poll

# A time of day that must not be found back in any anonymous row.
NOW = datetime(2026, 11, 25, 14, 37, 12, tzinfo=UTC)
N = 6


def scattered(ids: Sequence[int]) -> bool:
    """Not one after the other: no two ids differ by one (sequential ids all do, and so do
    ids that continue from the largest so far)."""
    ordered = sorted(ids)
    return len(ordered) > 1 and all(b - a > 1 for a, b in itertools.pairwise(ordered))


def times_of(row: Base) -> dict[str, Any]:
    """The row's timestamp columns (date-and-time, not date) that hold a value."""
    table = type(row).__table__  # type: ignore[attr-defined]
    return {
        c.key: getattr(row, c.key)
        for c in table.columns
        if isinstance(c.type, DateTime) or isinstance(getattr(c.type, "impl", None), DateTime)
        if getattr(row, c.key) is not None
    }


async def rows(engine: Engine, model: type[Base], *where: Any) -> list[Any]:
    async with engine.db.transaction(read_only=True) as session:
        return list((await session.execute(select(model).where(*where))).scalars())


async def test_open_answers_get_random_ids_and_anonymous_ones_only_a_date(
    engine: Engine, org: Org
) -> None:
    ids: dict[bool, list[int]] = {True: [], False: []}
    for anonymous in (True, False):
        async with engine.db.transaction() as session:
            questions = Questions(session)
            question = await questions.create(
                text="Wat kan er beter?", anonymous=anonymous, audience=Audience(),
                closes_at=None, created_by=None, now=NOW,
            )  # fmt: skip
            for i in range(N):
                await questions.answer(question, org.people[f"emp{i}"].id, f"Antwoord {i}", NOW)
            await session.flush()
            answers = (
                await session.execute(
                    select(OpenAnswer).where(OpenAnswer.question_id == question.id)
                )
            ).scalars()
            by_text = {a.text: a for a in answers}
            ids[anonymous] = [by_text[f"Antwoord {i}"].id for i in range(N)]
            if anonymous:
                for answer in by_text.values():
                    assert answer.person_id is None and times_of(answer) == {}
                    assert answer.answered_on == NOW.date()
    assert scattered(ids[True]), ids[True]
    assert scattered(ids[False]), ids[False]  # named rows too: none right after an anonymous one
    assert not {i + 1 for i in ids[True]} & set(ids[False])
    assert all(0 < i < 2**53 for i in ids[True] + ids[False])  # exact as JSON numbers


async def test_reports_photos_and_notes_get_random_ids_and_anonymous_ones_only_a_date(
    engine: Engine, org: Org
) -> None:
    photo = NewPhoto("processed-x", "original-x", faces=0, blurred=0, width=10, height=10)
    created: list[tuple[str, int]] = []
    for i in range(N):
        privacy = (ANONYMOUS, NAMED, HIDDEN)[i % 3] if i >= 3 else ANONYMOUS
        async with engine.db.transaction() as session:
            reports = Reports(session)
            report = await reports.create(
                reporter_id=org.people[f"emp{i}"].id, privacy=privacy,
                description=f"Melding {i}", location="Hal 2", recognisable="no", consent=None,
                photos=[photo, photo], now=NOW + timedelta(minutes=i),
                code=new_code() if privacy == ANONYMOUS else None,
            )  # fmt: skip
            await reports.add_note(
                report.id, f"Aanvulling {i}", today=NOW.date(), from_reporter=True, author_id=None
            )
            created.append((privacy, report.id))
    report_ids = [rid for _, rid in created]
    assert scattered(report_ids), report_ids
    photo_ids = [p.id for p in await rows(engine, ReportPhoto)]
    assert scattered(photo_ids), photo_ids
    note_ids = [n.id for n in await rows(engine, ReportNote)]
    assert scattered(note_ids), note_ids
    anonymous = [rid for privacy, rid in created if privacy == ANONYMOUS]
    for report in await rows(engine, Report, Report.id.in_(anonymous)):
        assert report.reporter_id is None and times_of(report) == {}
        assert report.submitted_on == NOW.date()
    for model in (ReportPhoto, ReportNote):
        for row in await rows(engine, model, model.report_id.in_(anonymous)):  # type: ignore[attr-defined]
            assert times_of(row) == {}
    # The lists still come out newest first, and the moderators' queue oldest first.
    async with engine.db.transaction(read_only=True) as session:
        reports = Reports(session)
        assert {r.id for r in await reports.recent()} == set(report_ids)
        assert set(await reports.not_notified()) == set(report_ids)
        [note] = await reports.notes(report_ids[0])
        assert note.text == "Aanvulling 0"


async def test_nominations_get_random_ids_and_only_a_date(engine: Engine, org: Org) -> None:
    async with engine.db.transaction() as session:
        nominations = Nominations(session)
        campaign = await nominations.create_campaign(
            title="OR 2027", closes_at=NOW + timedelta(days=7), anonymous=True,
            max_per_person=None, created_by=None, now=NOW,
        )  # fmt: skip
        for i in range(N):
            nominator = Nominator(key=f"key-{i}")
            nominee = org.people[f"emp{(i + 1) % N}"].id
            assert await nominations.nominate(campaign.id, nominator, nominee, None, NOW)
    saved = await rows(engine, Nomination)
    assert scattered([n.id for n in saved])
    for nomination in saved:
        assert nomination.nominator_id is None and times_of(nomination) == {}
        assert nomination.created_on == NOW.date()


async def test_question_itself_keeps_its_times(engine: Engine, org: Org) -> None:
    """Only rows of anonymous acts lose their time: the question (the OR's act) keeps it."""
    async with engine.db.transaction() as session:
        question = await Questions(session).create(
            text="Vraag", anonymous=True, audience=Audience(), closes_at=None,
            created_by=None, now=NOW,
        )  # fmt: skip
    [stored] = await rows(engine, OpenQuestion, OpenQuestion.id == question.id)
    assert stored.created_at == NOW


async def test_an_anonymous_vote_rewrites_every_option_of_the_poll(
    engine: Engine, org: Org, database_url: str
) -> None:
    """On PostgreSQL every row version carries the id of the transaction that wrote it (xmin),
    and so does the voter's participation row. Were only the chosen option's counter
    rewritten, each option's xmin would name the last person who chose it; every option of
    the poll is rewritten in the vote instead, so they all name the same last voter, who is
    known to have voted anyway. On both backends the counts stay right."""
    poll_id, options = await create_poll(engine, ["A", "B", "C"], anonymous=True)
    multiple_id, multiple = await create_poll(
        engine, ["X", "Y", "Z"], anonymous=True, multiple=True
    )
    await org.say("emp0", choice=vote_payload(poll_id, options[0]))
    await org.say("emp2", choice=vote_payload(poll_id, options[1]))
    await org.say("emp4", choice=vote_payload(multiple_id, multiple[0]))
    await org.say(
        "emp6", choice=PAYLOAD_JOIN.join(vote_payload(multiple_id, o) for o in multiple[1:])
    )
    async with engine.db.transaction(read_only=True) as session:
        counts = dict(
            (await session.execute(select(PollOption.id, PollOption.anonymous_count))).all()
        )
        assert [counts[o] for o in options] == [1, 1, 0]
        assert [counts[o] for o in multiple] == [1, 1, 1]
        if not database_url.startswith("postgresql"):
            return  # SQLite keeps no writer's transaction id on a row
        for poll, last in ((poll_id, "emp2"), (multiple_id, "emp6")):
            versions = await session.execute(
                text("SELECT DISTINCT xmin::text FROM poll_options WHERE poll_id = :p"),
                {"p": poll},
            )
            writers = await session.execute(
                text("SELECT xmin::text FROM participations WHERE poll_id = :p AND person_id = :v"),
                {"p": poll, "v": org.people[last].id},
            )
            assert {v for (v,) in versions} == {w for (w,) in writers}


async def system_columns(session: Any, table: str, where: str, params: dict[str, Any]) -> Any:
    """PostgreSQL's bookkeeping of the rows: the writers' transaction ids and the rows' ids in
    the order they lie on disk."""
    writers = await session.execute(
        text(f"SELECT DISTINCT xmin::text FROM {table} {where}"), params
    )
    placed = await session.execute(text(f"SELECT id FROM {table} {where} ORDER BY ctid"), params)
    return {w for (w,) in writers}, [i for (i,) in placed]


async def test_resealed_anonymous_answers_share_no_writer_and_lie_in_no_order(
    engine: Engine, org: Org, database_url: str
) -> None:
    """See storage/reseal.py: on PostgreSQL, an anonymous answer carries the transaction id
    of its writer's participation, conversation and confirmation rows, and lies on disk in
    the order of arrival, until the reseal job has rewritten it."""
    async with engine.db.transaction() as session:
        question = await Questions(session).create(
            text="Wat kan er beter?", anonymous=True, audience=Audience(),
            closes_at=None, created_by=None, now=NOW,
        )  # fmt: skip
    yesterday = NOW - timedelta(days=1)
    for i in range(N):
        async with engine.db.transaction() as session:
            fresh = await Questions(session).get(question.id)
            assert fresh is not None
            when = yesterday if i == 0 else NOW
            await Questions(session).answer(fresh, org.people[f"emp{i}"].id, f"Antwoord {i}", when)
    answers = await rows(engine, OpenAnswer, OpenAnswer.question_id == question.id)
    assert sorted(a.text for a in answers) == [f"Antwoord {i}" for i in range(N)]
    if not database_url.startswith("postgresql"):
        return  # SQLite keeps rows in the order of their (random) ids and no writer's id
    where = "WHERE question_id = :q"
    async with engine.db.transaction(read_only=True) as session:
        writers, _ = await system_columns(session, "open_answers", where, {"q": question.id})
        assert len(writers) == N  # each its author's transaction: what the reseal is for
    async with engine.db.transaction() as session:
        assert await reseal(session) == N
    async with engine.db.transaction(read_only=True) as session:
        writers, placed = await system_columns(session, "open_answers", where, {"q": question.id})
        authors = await session.execute(text("SELECT xmin::text FROM question_participations"))
        assert len(writers) == 1 and not writers & {a for (a,) in authors}
        assert placed == sorted(placed) and len(placed) == N


async def test_resealed_anonymous_nominations_share_one_writer_and_lie_in_no_order(
    engine: Engine, org: Org, database_url: str
) -> None:
    async with engine.db.transaction() as session:
        campaign = await Nominations(session).create_campaign(
            title="OR 2027", closes_at=NOW + timedelta(days=7), anonymous=True,
            max_per_person=None, created_by=None, now=NOW,
        )  # fmt: skip
    for i in range(N):
        async with engine.db.transaction() as session:
            nominee = org.people[f"emp{(i + 1) % N}"].id
            nominations = Nominations(session)
            assert await nominations.nominate(
                campaign.id, Nominator(key=f"key-{i}"), nominee, f"Reden {i}", NOW
            )
    saved = await rows(engine, Nomination)
    assert sorted(n.reason for n in saved) == [f"Reden {i}" for i in range(N)]
    assert {n.nominator_key for n in saved} == {f"key-{i}" for i in range(N)}
    if not database_url.startswith("postgresql"):
        return
    async with engine.db.transaction() as session:
        assert await reseal(session) == N
    async with engine.db.transaction(read_only=True) as session:
        writers, placed = await system_columns(
            session, "nominations", "WHERE campaign_id = :c", {"c": campaign.id}
        )
        assert len(writers) == 1 and placed == sorted(placed)
