"""The conversation model's memory: what the person was last asked, and the dialog stack.

A typed number answers the question the person saw last, in a dialog (its state) and outside
one (the outbox prompt); a dialog started by a button while another runs is stacked on it, and
when it ends (or is cancelled) the one below resumes at its step and asks its question again.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from bot.app import new_engine
from bot.engine import Engine
from storage.db import Database
from storage.models import Ballot, Person, Poll, PollOption, Report
from tests.support.org import Org
from tests.support.polls import create_poll

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(db: Database, settings) -> Engine:  # type: ignore[no-untyped-def]
    return new_engine(db, settings, clock=lambda: START)


async def polls(engine: Engine) -> list[tuple[Poll, list[str]]]:
    async with engine.db.transaction(read_only=True) as session:
        found = []
        for poll in (await session.execute(select(Poll).order_by(Poll.id))).scalars():
            stmt = select(PollOption.label).where(PollOption.poll_id == poll.id)
            found.append(
                (poll, list((await session.execute(stmt.order_by(PollOption.id))).scalars()))
            )
        return found


async def report_status(engine: Engine, report_id: int) -> str:
    async with engine.db.transaction(read_only=True) as session:
        report = await session.get(Report, report_id)
        assert report is not None
        return report.status


async def texts(org: Org, key: str) -> list[str]:
    return [m.text for m in await org.outbox(key)]


async def file_report(org: Org, engine: Engine) -> int:
    """emp2 reports an unsafe situation; the moderator gets the notice with its buttons."""
    for line in ["melding", "Geen foto", "Natte vloer", "Kantine", "Anoniem (naam verborgen)"]:
        await org.say("emp2", line)
    await org.say("emp2", "Versturen")
    async with engine.db.transaction(read_only=True) as session:
        [report_id] = (await session.execute(select(Report.id))).scalars()
    return report_id


async def moderator_may_make_polls(engine: Engine, org: Org) -> None:
    async with engine.db.transaction() as session:
        await engine.services(session).people.set_roles(
            org.people["mo"].id, {"moderator", "or_member"}
        )


async def test_a_typed_number_answers_a_step_that_asks_then_sets(engine: Engine, org: Org) -> None:
    """poll_create asks the audience again and then records its step (ask(), then set()) when
    the chosen audience has emptied before 'open': '1' must still mean 'Iedereen'."""
    for line in ["nieuwe peiling", "Koffie?", "Ja", "Nee", "klaar", "1", "1", "1"]:
        await org.say("olga", line)
    await org.say("olga", "Afdeling Productie")
    assert "Controleer je peiling" in (await org.last("olga")).text
    async with engine.db.transaction() as session:  # everyone in Productie moves on
        await session.execute(
            update(Person).where(Person.department == "Productie").values(department="Logistiek")
        )
    await org.say("olga", "1")  # open now: refused, the audience is asked again
    assert (await org.last("olga")).choices[0].label == "Iedereen"
    await org.say("olga", "1")  # Iedereen, typed
    assert "Controleer je peiling" in (await org.last("olga")).text
    await org.say("olga", "1")
    [(poll, _)] = await polls(engine)
    assert poll.audience == {} and poll.status == "open"


async def test_a_moderators_button_keeps_the_poll_draft(engine: Engine, org: Org) -> None:
    await moderator_may_make_polls(engine, org)
    report_id = await file_report(org, engine)
    for line in ["nieuwe peiling", "Koffie of thee?", "Koffie"]:
        await org.say("mo", line)
    await org.say("mo", choice=f"rm:{report_id}:reject")
    assert "Waarom wijs je melding" in (await org.last("mo")).text
    await org.say("mo", "Dubbele melding")
    assert await report_status(engine, report_id) == "rejected"
    *_, done, again = await texts(org, "mo")
    assert "de status is nu" in done
    assert again == "Optie 1: Koffie. Volgende, of 'klaar'."  # the draft asks again
    for line in ["Thee", "klaar", "2", "1", "1", "1", "1"]:  # typed numbers answer the draft
        await org.say("mo", line)
    [(poll, options)] = await polls(engine)
    assert (poll.question, options, poll.multiple) == ("Koffie of thee?", ["Koffie", "Thee"], True)
    assert "Peiling" in (await org.last("mo")).text


async def test_stop_or_back_in_the_inner_dialog_returns_to_the_outer(
    engine: Engine, org: Org
) -> None:
    await moderator_may_make_polls(engine, org)
    report_id = await file_report(org, engine)
    for line in ["nieuwe peiling", "Koffie of thee?", "Koffie", "Thee", "klaar"]:
        await org.say("mo", line)
    asked = await org.last("mo")
    assert "één of meerdere" in asked.text
    await org.say("mo", choice=f"rm:{report_id}:reject")
    await org.say("mo", "annuleer")
    *_, stopped, again = await org.outbox("mo")
    assert "Gestopt" in stopped.text
    assert (again.text, again.choices) == (asked.text, asked.choices)
    await org.say("mo", choice=f"rm:{report_id}:reject")
    await org.say("mo", "terug")
    *_, dropped, again = await org.outbox("mo")
    assert "niet afgewezen" in dropped.text and again.text == asked.text
    assert await report_status(engine, report_id) != "rejected"
    for line in ["1", "1", "1", "1", "1"]:
        await org.say("mo", line)
    [(poll, options)] = await polls(engine)
    assert (options, poll.multiple) == (["Koffie", "Thee"], False)


async def test_typed_numbers_in_a_dialog_and_for_a_poll_outside_one(
    engine: Engine, org: Org
) -> None:
    """The dialog's question wins over a poll that arrived meanwhile; outside a dialog, the
    poll's prompt is what a typed number answers."""
    for line in ["nieuwe peiling", "Lunch?", "Soep", "Brood", "klaar"]:
        await org.say("olga", line)
    _poll_id, opts = await create_poll(engine, ["Ja", "Nee"], question="Borrel?")
    assert "Borrel?" in (await org.last("olga")).text  # the poll reached olga too
    await org.say("olga", "2")  # answers the draft (several answers), not the poll
    await org.say("emp0", "2")  # answers the poll: Nee
    async with engine.db.transaction(read_only=True) as session:
        ballots = list((await session.execute(select(Ballot.person_id, Ballot.option_id))).all())
    assert [tuple(b) for b in ballots] == [(org.people["emp0"].id, opts[1])]
    for line in ["1", "1", "1", "1"]:
        await org.say("olga", line)
    *_, (draft, draft_options) = await polls(engine)
    assert (draft.question, draft_options, draft.multiple) == ("Lunch?", ["Soep", "Brood"], True)
