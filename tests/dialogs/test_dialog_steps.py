"""The guided-dialog base (bot/dialog_steps.py), seen through poll creation: 'help'/'menu'
explain and ask the same step again, 'terug' goes to the previous step (and says so at the
first), 'stop' ends, and a re-ask says why the answer was not taken (issues 12 and 13)."""

from __future__ import annotations

from sqlalchemy import select

from bot.engine import Engine
from storage.models import Poll, PollOption
from tests.support.org import Org


async def polls(engine: Engine) -> list[tuple[Poll, list[str]]]:
    async with engine.db.transaction(read_only=True) as session:
        found = list((await session.execute(select(Poll).order_by(Poll.id))).scalars())
        out = []
        for poll in found:
            stmt = (
                select(PollOption.label)
                .where(PollOption.poll_id == poll.id)
                .order_by(PollOption.position)
            )
            out.append((poll, list((await session.execute(stmt)).scalars())))
        return out


async def say_all(org: Org, lines: list[str]) -> None:
    for line in lines:
        await org.say("olga", line)


async def test_help_at_the_question_explains_and_is_not_the_question(
    engine: Engine, org: Org
) -> None:
    await say_all(org, ["nieuwe peiling", "help"])
    last = (await org.last("olga")).text
    assert "Typ de vraag van de peiling in één bericht" in last
    assert "'terug'" in last and "'stop'" in last
    assert last.endswith("Wat is de vraag? (Typ 'stop' om af te breken.)")
    await say_all(org, ["Koffie of thee?", "Koffie", "Thee", "klaar", "1", "1"])
    await say_all(org, ["Geen sluitingstijd", "Iedereen", "1"])
    [(poll, options)] = await polls(engine)
    assert poll.question == "Koffie of thee?" and options == ["Koffie", "Thee"]


async def test_menu_while_adding_options_is_not_an_option(engine: Engine, org: Org) -> None:
    await say_all(org, ["nieuwe peiling", "Koffie of thee?", "Koffie", "menu"])
    last = (await org.last("olga")).text
    assert "Optie 2" not in last and "Typ elke antwoordmogelijkheid" in last
    assert "1. Koffie" in last  # what is there so far
    await say_all(org, ["Thee", "klaar", "1", "1", "Geen sluitingstijd", "Iedereen", "1"])
    [(_, options)] = await polls(engine)
    assert options == ["Koffie", "Thee"]


async def test_back_at_the_preview_goes_to_the_audience(engine: Engine, org: Org) -> None:
    await say_all(org, ["nieuwe peiling", "Koffie of thee?", "Koffie", "Thee", "klaar"])
    await say_all(org, ["1", "1", "Geen sluitingstijd", "Iedereen"])
    assert "Controleer je peiling" in (await org.last("olga")).text
    await org.say("olga", "terug")
    last = await org.last("olga")
    assert last.text == "Voor wie is de peiling?"
    assert "Afdeling Productie" in [c.label for c in last.choices]
    await org.say("olga", "Afdeling Productie")
    assert "Afdeling Productie" in (await org.last("olga")).text  # the new preview
    await org.say("olga", "1")
    [(poll, _)] = await polls(engine)
    assert poll.audience == {"department": "Productie"}


async def test_back_through_the_steps_and_at_the_first_one(engine: Engine, org: Org) -> None:
    await say_all(org, ["nieuwe peiling", "Koffie of thee?", "Koffie", "Thee", "klaar"])
    await org.say("olga", "terug")
    assert "antwoordmogelijkheden" in (await org.last("olga")).text
    await org.say("olga", "terug")
    assert "Wat is de vraag?" in (await org.last("olga")).text
    await org.say("olga", "terug")
    last = (await org.last("olga")).text
    assert last.startswith("Dit is de eerste vraag") and "Wat is de vraag?" in last
    await say_all(org, ["Thee of water?", "klaar", "1", "2", "Geen sluitingstijd", "Iedereen"])
    await org.say("olga", "1")
    [(poll, options)] = await polls(engine)
    assert poll.question == "Thee of water?" and options == ["Koffie", "Thee"]
    assert poll.anonymous


async def test_reask_says_why_and_what_works(engine: Engine, org: Org) -> None:
    await org.say("olga", "language en")
    await say_all(org, ["new poll", "Lunch?", "Soup", "Salad", "done", "maybe"])
    last = await org.last("olga")
    assert last.text.startswith("'maybe' fits none of the choices. Pick a button")
    assert last.text.endswith("May people choose one answer or several?")
    assert [c.payload for c in last.choices] == ["pc:single", "pc:multi"]
    await org.say("olga", "help")
    assert "Choose whether colleagues may pick one answer" in (await org.last("olga")).text
    await org.say("olga", "stop")
    assert "Stopped" in (await org.last("olga")).text
    assert await polls(engine) == []
