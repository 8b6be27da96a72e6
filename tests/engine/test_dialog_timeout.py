"""A guided dialog left unanswered longer than ACHTERBAN_DIALOG_TIMEOUT_MINUTES ends when the
person next writes: one line says so, and the message is read as if no dialog ran; a dialog
stacked below goes too. Report drafts keep their own reminder and discard times (issue 12),
also below a dialog that stops.
The engine's clock is a test clock: nothing sleeps."""

from __future__ import annotations

import pytest

from bot.engine import Engine
from bot.usecases import questions
from storage.models import Conversation
from storage.people import Audience
from tests.support.broadcasts import Clock
from tests.support.org import Org
from tests.support.usecases import run

STOPPED = "Je onafgemaakte {} is gestopt: je had er 60 minuten niet op geantwoord."


@pytest.fixture
def clock(engine: Engine) -> Clock:
    engine.clock = clock = Clock()
    return clock


async def conversation(engine: Engine, org: Org, key: str) -> Conversation:
    async with engine.db.transaction(read_only=True) as session:
        found = await session.get(Conversation, org.people[key].id)
        assert found is not None
        return found


async def test_an_idle_draft_is_stopped_and_the_message_read_without_it(
    engine: Engine, org: Org, clock: Clock
) -> None:
    await org.say("olga", "nieuwe peiling")
    await org.say("olga", "Koffie of thee?")
    clock.advance(minutes=61)
    await org.say("olga", "peilingen")  # would have been an option of the draft
    *_, stopped, listing = await org.outbox("olga")
    assert stopped.text.startswith(STOPPED.format("peiling"))
    assert "peiling" in listing.text.casefold() and "Optie" not in listing.text
    row = await conversation(engine, org, "olga")
    assert (row.dialog, row.state) == (None, {})


async def test_answering_keeps_it_going(engine: Engine, org: Org, clock: Clock) -> None:
    await org.say("olga", "nieuwe vraag")
    clock.advance(minutes=59)
    await org.say("olga", "Hoe gaat het?")
    clock.advance(minutes=59)  # 118 minutes since it began, 59 since the last answer
    await org.say("olga", "help")
    text = (await org.last("olga")).text
    assert "gestopt" not in text and "Met naam of anoniem" in text
    assert (await conversation(engine, org, "olga")).dialog == "question_create"


async def test_a_stacked_dialog_goes_too(engine: Engine, org: Org, clock: Clock) -> None:
    await org.say("olga", "nieuwe peiling")
    await org.say("olga", choice="bcm:new")  # a new broadcast, stacked on the poll draft
    row = await conversation(engine, org, "olga")
    assert row.dialog == "broadcast_create" and row.state["_stack"]
    clock.advance(hours=2)
    await org.say("olga", "stop")  # what it would stop has stopped: nothing else happens
    messages = await org.outbox("olga")
    assert messages[-1].text.startswith(STOPPED.format("nieuwsbericht"))
    assert "niets om te stoppen" not in messages[-2].text
    row = await conversation(engine, org, "olga")
    assert (row.dialog, row.state) == (None, {})


async def test_a_report_draft_below_a_stopped_dialog_takes_over(
    engine: Engine, org: Org, clock: Clock
) -> None:
    """The report draft keeps its own time: the broadcast stacked on it stops, the draft
    asks its question again, and the message (meant for the broadcast) is not read as an
    answer to the draft's question."""
    await org.say("olga", "melding")
    asked = (await org.last("olga")).text
    await org.say("olga", choice="bcm:new")  # a new broadcast, stacked on the report draft
    clock.advance(hours=2)
    await org.say("olga", "Geen foto")  # would have answered the draft's photo question
    *_, stopped, again = await org.outbox("olga")
    assert stopped.text.startswith(STOPPED.format("nieuwsbericht"))
    assert again.text == asked
    row = await conversation(engine, org, "olga")
    assert row.dialog == "unsafe_report" and "_stack" not in row.state


async def test_the_setting_is_read(engine: Engine, org: Org, clock: Clock) -> None:
    engine.settings = engine.settings.model_copy(update={"dialog_timeout_minutes": 5})
    await org.say("olga", "nominatieronde")
    clock.advance(minutes=6)
    await org.say("olga", "OR 2027")
    *_, stopped, after = await org.outbox("olga")
    assert stopped.text.startswith(
        "Je onafgemaakte nominatieronde is gestopt: je had er 5 minuten niet op geantwoord."
    )
    assert "Wanneer sluit de ronde" not in after.text
    await org.say("emp1", "nominate")  # English, and no dialog: nothing to stop
    assert "stopped" not in (await org.last("emp1")).text


async def test_report_drafts_keep_their_own_time(engine: Engine, org: Org, clock: Clock) -> None:
    await org.say("emp0", "melding")
    clock.advance(hours=3)  # reminded after 4 hours, discarded after a day (report_jobs)
    await org.say("emp0", "Geen foto")
    assert "gestopt" not in (await org.outbox("emp0"))[-2].text
    assert (await conversation(engine, org, "emp0")).dialog == "unsafe_report"


async def test_an_open_answer_keeps_its_questions_time(
    engine: Engine, org: Org, clock: Clock
) -> None:
    opened = await run(
        engine,
        lambda s: questions.create(
            s, text="Wat kan beter?", anonymous=False, audience=Audience(), closes_at=None,
            created_by=None,
        ),
    )  # fmt: skip
    await org.say("emp0", choice=f"oq:{opened.question.id}:answer")
    clock.advance(hours=2)  # a considered answer
    await org.say("emp0", "Meer overleg met de ploegleiders voordat roosters veranderen.")
    assert "gestopt" not in (await org.last("emp0")).text
    async with engine.db.transaction(read_only=True) as session:
        answers = await questions.Questions(session).count_answers(opened.question.id)
    assert answers == 1
