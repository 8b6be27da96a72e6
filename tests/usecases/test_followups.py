""" "Wat doet de OR ermee?" (bot/usecases/followups.py) on both backends: a closed poll or
question → a follow-up → everyone in its audience gets the results and the OR's text."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, TypeVar

import pytest
from sqlalchemy import select

from bot.conversation import Services
from bot.engine import Engine
from bot.usecases import Refused, broadcasts, followups
from bot.usecases import polls as poll_cases
from bot.usecases import questions as question_cases
from storage.broadcast_status import broadcast_status
from storage.models import AuditEntry, OpenAnswer, OutboxMessage
from storage.people import Audience
from tests.support.org import Org
from tests.test_themes import PAY, ROSTERS

T = TypeVar("T")
TEXT = "We gaan met de directie praten over de kerstpakketten."
OR = broadcasts.Actor(None, via="test")  # the operator; persons are checked by their roles


async def run(engine: Engine, fn: Callable[[Services], Awaitable[T]]) -> T:
    async with engine.db.transaction() as session:
        return await fn(engine.services(session))


async def refusal(engine: Engine, fn: Callable[[Services], Awaitable[object]]) -> Refused:
    with pytest.raises(Refused) as caught:
        await run(engine, fn)
    return caught.value


async def _poll(engine: Engine, org: Org, *, close: bool = True) -> int:
    draft = poll_cases.PollDraft(question="Kerstpakket of bon?", options=["Pakket", "Bon"])

    async def make(services: Services) -> int:
        created = await poll_cases.create_poll(services, draft, actor_id=org.people["olga"].id)
        poll = created.poll
        options = await services.polls.options(poll.id)
        for key, option in (("emp0", 0), ("emp1", 1), ("emp2", 1)):
            await services.polls.vote(
                poll, org.people[key].id, [options[option].id], "console", now=services.now
            )
        if close:
            assert await poll_cases.close_poll(services, poll)
        return poll.id

    return await run(engine, make)


async def _followup_rows(engine: Engine) -> dict[int, dict[str, Any]]:
    """The follow-up message per person (the newest broadcast row of each)."""
    async with engine.db.transaction(read_only=True) as session:
        stmt = select(OutboxMessage).where(OutboxMessage.purpose == "broadcast")
        rows = (await session.execute(stmt.order_by(OutboxMessage.id))).scalars()
        return {row.person_id: row.payload for row in rows if row.person_id is not None}


async def test_closed_poll_follow_up_reaches_everyone_with_results(
    engine: Engine, org: Org
) -> None:
    poll_id = await _poll(engine, org)
    olga = broadcasts.Actor(org.people["olga"].id, via="web")
    sent = await run(engine, lambda s: followups.follow_up_poll(s, poll_id, f"  {TEXT} ", olga))
    assert sent.queued == len(org.people) and sent.wake_worker
    got = await _followup_rows(engine)
    assert set(got) == {p.id for p in org.people.values()}
    for key, person in org.people.items():
        text = got[person.id]["text"]
        english = person.language == "en"
        assert ("What will the works council do?" if english else "Wat doet de OR ermee?") in text
        assert (
            "Kerstpakket of bon?" in text and "Pakket: 1 (33%)" in text and "Bon: 2 (67%)" in text
        )
        assert text.index("Bon: 2") < text.index(TEXT), key  # the results first, then the OR
        # Feedback as for every broadcast: the useful / not useful buttons.
        assert [c["payload"] for c in got[person.id]["choices"]] == [
            f"bc:{sent.broadcast_id}:useful",
            f"bc:{sent.broadcast_id}:not_useful",
        ]
    async with engine.db.transaction(read_only=True) as session:
        status = await broadcast_status(session, sent.broadcast_id)
        audit = (await session.execute(select(AuditEntry))).scalars().all()
    assert status is not None and status.queued == len(org.people)  # reach counts as a broadcast
    created = [a for a in audit if a.action == "broadcast.created"]
    assert created and created[-1].details == {"followup": f"poll:{poll_id}", "via": "web"}
    again = await refusal(engine, lambda s: followups.follow_up_poll(s, poll_id, "Nog eens", OR))
    assert again.key == followups.ALREADY


async def test_refused_for_an_open_poll_a_colleague_and_a_bad_text(
    engine: Engine, org: Org
) -> None:
    open_id = await _poll(engine, org, close=False)
    found = await refusal(engine, lambda s: followups.follow_up_poll(s, open_id, TEXT, OR))
    assert (found.key, found.params) == (followups.NOT_CLOSED, {"kind": "poll", "id": open_id})
    closed_id = await _poll(engine, org)
    colleague = broadcasts.Actor(org.people["emp0"].id)
    found = await refusal(engine, lambda s: followups.follow_up_poll(s, closed_id, TEXT, colleague))
    assert found.key == followups.OR_ONLY
    moderator = broadcasts.Actor(org.people["mo"].id)
    found = await refusal(engine, lambda s: followups.follow_up_poll(s, closed_id, TEXT, moderator))
    assert found.key == followups.OR_ONLY
    for text in ("   ", "x" * (followups.MAX_TEXT + 1)):
        found = await refusal(
            engine, lambda s, t=text: followups.follow_up_poll(s, closed_id, t, OR)
        )
        assert found.key == followups.TEXT_LENGTH
    found = await refusal(engine, lambda s: followups.follow_up_poll(s, 999_999, TEXT, OR))
    assert found.key == followups.NOT_FOUND
    assert await _followup_rows(engine) == {}  # nothing went out


async def test_closed_question_follow_up_has_count_and_themes(engine: Engine, org: Org) -> None:
    async def ask(services: Services) -> int:
        opened = await question_cases.create(
            services, text="Wat moet beter?", anonymous=True, audience=Audience(
                department="Productie"), closes_at=None, created_by=org.people["olga"].id,
        )  # fmt: skip
        for text in PAY + ROSTERS:
            services.session.add(
                OpenAnswer(question_id=opened.question.id, person_id=None, text=text,
                           answered_on=date.today())
            )  # fmt: skip
        return opened.question.id

    question_id = await run(engine, ask)
    refused = await refusal(
        engine, lambda s: followups.follow_up_question(s, question_id, TEXT, OR)
    )
    assert refused.key == followups.NOT_CLOSED
    await run(engine, lambda s: question_cases.close(s, question_id, actor_id=None))
    sent = await run(engine, lambda s: followups.follow_up_question(s, question_id, TEXT, OR))
    got = await _followup_rows(engine)
    production = {p.id for p in org.people.values() if p.department == "Productie"}
    assert set(got) == production and sent.queued == len(production)
    text = got[org.people["emp0"].id]["text"]
    count = len(PAY) + len(ROSTERS)
    assert f"{count} antwoorden van {len(production)} collega's" in text
    assert "Wat vaak genoemd werd:" in text and TEXT in text
    assert "(8 antwoorden)" in text  # a theme with its count; no answer is quoted
    assert not any(answer in text for answer in PAY + ROSTERS)


async def test_later_batches_queued_by_the_scheduler_carry_the_results(
    engine: Engine, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large audience is queued by the scheduler's tick, not in the author's transaction:
    those messages must be follow-ups too, not bare broadcasts."""
    monkeypatch.setattr(broadcasts, "TURN_BATCHES", 0)
    poll_id = await _poll(engine, org)
    sent = await run(engine, lambda s: followups.follow_up_poll(s, poll_id, TEXT, OR))
    assert sent.queued == 0 and await _followup_rows(engine) == {}
    assert await run(engine, broadcasts.send_due) == len(org.people)
    got = await _followup_rows(engine)
    assert all(
        "Wat doet de OR ermee?" in p["text"] or "works council" in p["text"] for p in got.values()
    )
    assert all("Bon: 2" in p["text"] for p in got.values())
