"""The open-question use case: each rule once, against the command every path calls (chat,
dashboard, CLI), on both backends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.conversation import Services
from bot.engine import Engine
from bot.usecases import questions
from storage.models import AuditEntry, OpenAnswer, OpenQuestion, OutboxMessage
from storage.people import Audience
from storage.questions import CLOSED, AnswerOutcome
from tests.support.org import Org
from tests.support.usecases import refusal, run

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


async def rows(engine: Engine, model: type) -> list[Any]:
    async with engine.db.transaction(read_only=True) as session:
        return list((await session.execute(select(model))).scalars())


def creating(**overrides: Any) -> Callable[[Services], Awaitable[questions.Opened]]:
    args: dict[str, Any] = {
        "text": "Wat kan er beter?",
        "anonymous": False,
        "audience": Audience(),
        "closes_at": None,
        "created_by": None,
    }
    args.update(overrides)
    return lambda services: questions.create(services, **args)


async def make(engine: Engine, **overrides: Any) -> OpenQuestion:
    return (await run(engine, creating(**overrides))).question


@pytest.fixture(autouse=True)
def clock(engine: Engine) -> None:
    engine.clock = lambda: START


async def test_create_sends_to_the_audience_and_audits(engine: Engine, org: Org) -> None:
    opened = await run(
        engine,
        creating(
            text="  Wat kan er beter?  ",
            audience=Audience(department="Productie"),
            created_by=org.people["olga"].id,
        ),
    )
    assert opened.sent == 4
    [question] = await rows(engine, OpenQuestion)
    assert (question.text, question.audience_size) == ("Wat kan er beter?", 4)
    assert len(await rows(engine, OutboxMessage)) == 4
    [entry] = await rows(engine, AuditEntry)
    assert (entry.action, entry.actor_id) == ("question.opened", org.people["olga"].id)


@pytest.mark.parametrize("text", ["", "   ", "x" * (questions.MAX_QUESTION + 1)])
async def test_text_must_be_1_to_max_characters(engine: Engine, org: Org, text: str) -> None:
    problem = await refusal(engine, creating(text=text))
    assert (problem.key, problem.params) == ("qcreate.text_length", {"max": 1000})
    assert await rows(engine, OpenQuestion) == []


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(minutes=-1)])
async def test_closing_time_lies_in_the_future(engine: Engine, org: Org, offset: timedelta) -> None:
    problem = await refusal(engine, creating(closes_at=START + offset))
    assert problem.key == "qcreate.bad_closes"
    assert (await make(engine, closes_at=START + timedelta(minutes=1))).closes_at is not None


async def test_an_audience_nobody_matches_is_refused(engine: Engine, org: Org) -> None:
    """Chat used to send such a question to nobody; the CLI refused. Now every path does."""
    problem = await refusal(engine, creating(audience=Audience(department="Nergens")))
    assert problem.key == "qcreate.audience_empty"
    assert await rows(engine, OpenQuestion) == []


async def test_only_the_works_council_creates(engine: Engine, org: Org) -> None:
    problem = await refusal(engine, creating(created_by=org.people["emp0"].id))
    assert problem.key == "common.or_only"


async def test_close_tells_the_author_and_only_once(engine: Engine, org: Org) -> None:
    olga = org.people["olga"].id  # Kantoor: hears of the closing, was not asked
    question = await make(engine, created_by=olga, audience=Audience(department="Productie"))
    missing = await refusal(engine, lambda s: questions.close(s, 999999, actor_id=None))
    assert (missing.key, missing.params) == ("question.not_found", {"id": 999999})
    closed = await run(engine, lambda s: questions.close(s, question.id, actor_id=None))
    assert closed.status == CLOSED
    again = await refusal(engine, lambda s: questions.close(s, question.id, actor_id=None))
    assert again.key == "question.not_open"
    async with engine.db.transaction(read_only=True) as session:
        stmt = select(OutboxMessage).where(OutboxMessage.person_id == olga)
        [notice] = (await session.execute(stmt)).scalars()
    assert f"Vraag {question.id}" in notice.payload["text"]


async def test_close_due_closes_what_passed_its_time(engine: Engine, org: Org) -> None:
    due = await make(engine, closes_at=START + timedelta(hours=1))
    later = await make(engine, closes_at=START + timedelta(days=1))
    engine.clock = lambda: START + timedelta(hours=2)
    assert await run(engine, questions.close_due) == 1
    statuses = {q.id: q.status for q in await rows(engine, OpenQuestion)}
    assert statuses == {due.id: CLOSED, later.id: "open"}


async def test_answer_text_rules_come_first(engine: Engine, org: Org) -> None:
    question, emp0 = await make(engine), org.people["emp0"].id
    empty = await refusal(engine, lambda s: questions.answer(s, question.id, emp0, "  "))
    assert empty.key == "question.answer_empty" and empty.key in questions.RETYPE
    long = "x" * (questions.MAX_ANSWER + 1)
    too_long = await refusal(engine, lambda s: questions.answer(s, question.id, emp0, long))
    assert too_long.params == {"max": 2000, "length": 2001} and too_long.key in questions.RETYPE
    assert await rows(engine, OpenAnswer) == []


async def test_named_answers_are_replaced(engine: Engine, org: Org) -> None:
    question, emp0 = await make(engine), org.people["emp0"].id

    async def say(text: str) -> AnswerOutcome:
        return (await run(engine, lambda s: questions.answer(s, question.id, emp0, text))).outcome

    assert await say("Koffie") is AnswerOutcome.NEW
    assert await say("Koffie") is AnswerOutcome.UNCHANGED
    assert await say("Thee") is AnswerOutcome.REPLACED
    assert [a.text for a in await rows(engine, OpenAnswer)] == ["Thee"]


async def test_anonymous_answers_once(engine: Engine, org: Org) -> None:
    question, emp0 = await make(engine, anonymous=True), org.people["emp0"].id
    first = await run(engine, lambda s: questions.answer(s, question.id, emp0, "Koffie"))
    assert first.outcome is AnswerOutcome.NEW
    problem = await refusal(engine, lambda s: questions.may_start_answer(s, question.id, emp0))
    assert problem.key == "question.anonymous_already"
    second = await run(engine, lambda s: questions.answer(s, question.id, emp0, "Thee"))
    assert second.outcome is AnswerOutcome.ALREADY_ANSWERED


async def test_who_may_answer_and_until_when(engine: Engine, org: Org) -> None:
    closes = START + timedelta(hours=1)
    question = await make(engine, audience=Audience(department="Productie"), closes_at=closes)
    emp0, emp1 = org.people["emp0"].id, org.people["emp1"].id  # Productie, Logistiek
    outsider = await refusal(engine, lambda s: questions.answer(s, question.id, emp1, "Hoi"))
    assert outsider.key == "question.not_in_audience"
    missing = await refusal(engine, lambda s: questions.answerable(s, 999999, emp0))
    assert missing.key == "question.not_found"
    assert [q.id for q in await run(engine, lambda s: questions.open_for(s, emp0))] == [question.id]
    assert await run(engine, lambda s: questions.open_for(s, emp1)) == []
    engine.clock = lambda: closes  # the closing time itself is too late; not yet closed
    late = await refusal(engine, lambda s: questions.answer(s, question.id, emp0, "Hoi"))
    assert (late.key, late.params["when"]) == ("question.closed_since", closes)
    assert await run(engine, lambda s: questions.open_for(s, emp0)) == []
    assert await rows(engine, OpenAnswer) == []


async def test_hide_answer(engine: Engine, org: Org) -> None:
    question, emp0 = await make(engine), org.people["emp0"].id
    answered = await run(engine, lambda s: questions.answer(s, question.id, emp0, "Idioot"))
    assert answered.outcome is AnswerOutcome.NEW
    [answer] = await rows(engine, OpenAnswer)
    mo, olga = org.people["mo"].id, org.people["olga"].id

    def hide(by: int, **kw: Any) -> Callable[[Services], Awaitable[bool]]:
        return lambda s: questions.hide_answer(s, answer.id, moderator_id=by, **kw)

    assert (await refusal(engine, hide(olga))).key == "question.moderators_only"
    other = await refusal(engine, hide(mo, question_id=question.id + 1))
    assert (other.key, other.params) == ("question.answer_not_found", {"id": answer.id})
    assert await run(engine, hide(mo, via="cli")) is True
    assert await run(engine, hide(mo)) is False
    [entry] = [e for e in await rows(engine, AuditEntry) if e.action == "answer.hidden"]
    assert (entry.actor_id, entry.details) == (mo, {"question": question.id, "via": "cli"})
