"""Optional English texts (issue 13, texts): an English-speaking colleague gets the poll,
question or broadcast in English when its author wrote it in English too, a Dutch colleague
gets the Dutch, and without English texts both get the Dutch. Through the use cases, the CLI
and the dashboard, on both backends (the `db` fixture)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli.main import app as cli_app
from bot.config import Settings
from bot.conversation import Services
from bot.engine import Engine
from bot.i18n import pick
from bot.usecases import broadcasts, questions
from bot.usecases import polls as poll_cases
from bot.usecases.polls import PollDraft, PollRefused
from storage.broadcast_models import Broadcast
from storage.models import Poll, PollOption
from storage.people import Audience
from storage.recurring_models import PollSchedule
from tests.e2e.support import client_for, log_in
from tests.support.org import Org

DUTCH = PollDraft(question="Wat wil je met kerst?", options=["Kerstpakket", "Extra vrije dag"])
BOTH = replace(
    DUTCH, question_en="What would you like for Christmas?", options_en=["Hamper", "Day off"]
)
# emp1 speaks English (tests/support/org.py), emp0 Dutch.


async def _create(engine: Engine, draft: PollDraft) -> poll_cases.Created:
    async with engine.db.transaction() as session:
        return await poll_cases.create_poll(engine.services(session), draft, actor_id=None)


def test_pick() -> None:
    assert pick("en", "Hallo", "Hello") == "Hello"
    assert pick("en-GB", "Hallo", "Hello") == "Hello"
    assert pick("nl", "Hallo", "Hello") == "Hallo"
    assert pick("en", "Hallo", None) == "Hallo"
    assert pick("en", "Hallo", "") == "Hallo"


async def test_poll_in_each_colleagues_language(engine: Engine, org: Org) -> None:
    created = await _create(engine, BOTH)
    english, dutch = await org.last("emp1"), await org.last("emp0")
    assert "What would you like for Christmas?" in english.text
    assert "Wat wil je" not in english.text
    assert [c.label for c in english.choices] == ["Hamper", "Day off"]
    assert "Wat wil je met kerst?" in dutch.text and "Christmas" not in dutch.text
    assert [c.label for c in dutch.choices] == ["Kerstpakket", "Extra vrije dag"]
    assert [c.payload for c in english.choices] == [c.payload for c in dutch.choices]
    # A typed English label counts as that option (the prompt holds the labels as sent).
    await org.say("emp1", "day off")
    assert "Day off" in (await org.last("emp1")).text  # the confirmation names it in English
    await org.say("emp0", "kerstpakket")
    async with engine.db.transaction() as session:
        poll = await session.get(Poll, created.poll.id)
        assert poll is not None
        assert await poll_cases.close_poll(engine.services(session), poll)
    results_en, results_nl = (await org.last("emp1")).text, (await org.last("emp0")).text
    assert "What would you like for Christmas?" in results_en and "2. Day off: 1" in results_en
    assert "1. Kerstpakket: 1" in results_nl and "Hamper" not in results_nl


async def test_without_english_everyone_gets_the_dutch(engine: Engine, org: Org) -> None:
    await _create(engine, DUTCH)
    for key in ("emp0", "emp1"):
        message = await org.last(key)
        assert "Wat wil je met kerst?" in message.text, key
        assert [c.label for c in message.choices] == ["Kerstpakket", "Extra vrije dag"]
    assert "Poll" in (await org.last("emp1")).text  # the bot's own words stay English


@pytest.mark.parametrize(
    ("changes", "key", "field"),
    [
        ({"options_en": ["Hamper"]}, "english.option_count", "options_en"),
        ({"question_en": None}, "english.question_missing", "question_en"),
        ({"options_en": ["Same", "same"]}, "pollrule.option_duplicate", "options_en"),
        ({"question_en": "x" * 501}, "pollrule.question_length", "question_en"),
    ],
)
async def test_english_texts_follow_the_rules(
    engine: Engine, org: Org, changes: dict[str, object], key: str, field: str
) -> None:
    with pytest.raises(PollRefused) as caught:
        await _create(engine, replace(BOTH, **changes))  # type: ignore[arg-type]
    assert (caught.value.key, caught.value.field) == (key, field)


async def test_english_question_without_labels_is_fine(engine: Engine, org: Org) -> None:
    await _create(engine, replace(DUTCH, question_en="Christmas?"))
    english = await org.last("emp1")
    assert "Christmas?" in english.text
    assert [c.label for c in english.choices] == ["Kerstpakket", "Extra vrije dag"]


async def test_a_repeating_poll_keeps_its_english(engine: Engine, org: Org) -> None:
    await _create(engine, replace(BOTH, repeat="weekly"))
    async with engine.db.transaction(read_only=True) as session:
        schedule = (await session.execute(select(PollSchedule))).scalar_one()
    assert schedule.question_en == BOTH.question_en
    assert schedule.options_en == ["Hamper", "Day off"]


async def test_question_in_each_colleagues_language(engine: Engine, org: Org) -> None:
    async def create(text_en: str | None) -> None:
        async with engine.db.transaction() as session:
            await questions.create(
                engine.services(session),
                text="Wat kan er beter?",
                text_en=text_en,
                anonymous=True,
                audience=Audience(),
                closes_at=None,
                created_by=org.people["olga"].id,
            )

    await create("What could be better?")
    assert "What could be better?" in (await org.last("emp1")).text
    dutch = (await org.last("emp0")).text
    assert "Wat kan er beter?" in dutch and "What could" not in dutch
    await create(None)
    assert "Wat kan er beter?" in (await org.last("emp1")).text


async def test_broadcast_in_each_colleagues_language(engine: Engine, org: Org) -> None:
    for key in ("emp0", "emp1"):
        await org.say(key, "hallo")  # an account to reach them on
    actor = broadcasts.Actor(org.people["olga"].id, frozenset(org.roles["olga"]))

    async def send(text_en: str | None) -> None:
        draft = broadcasts.Draft(text="De kantine is dicht.", text_en=text_en)
        async with engine.db.transaction() as session:
            await broadcasts.create(engine.services(session), draft, actor)

    await send("The canteen is closed.")
    assert "The canteen is closed." in (await org.last("emp1")).text
    dutch = (await org.last("emp0")).text
    assert "De kantine is dicht." in dutch and "canteen" not in dutch
    await send(None)
    assert "De kantine is dicht." in (await org.last("emp1")).text


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    async with client_for(settings) as client:
        yield client


async def test_cli_takes_english_texts(engine: Engine, org: Org, settings: Settings) -> None:
    env = {"ACHTERBAN_DATABASE_URL": settings.db_url, "ACHTERBAN_DATA_DIR": str(settings.data_dir)}
    args = ["poll", "create", "--question", "Pauze?", "--option", "Ja", "--option", "Nee"]
    args += ["--question-en", "Break?", "--option-en", "Yes", "--option-en", "No"]
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, args, env=env)
    assert result.exit_code == 0, result.output
    english = await org.last("emp1")
    assert "Break?" in english.text and [c.label for c in english.choices] == ["Yes", "No"]
    bad = [*args[:-2]]  # one English label for two options
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, bad, env=env)
    assert result.exit_code == 2 and "every option" in result.output
    args = ["question", "create", "--text", "Wat kan beter?", "--text-en", "What could improve?"]
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, args, env=env)
    assert result.exit_code == 0, result.output
    assert "What could improve?" in (await org.last("emp1")).text
    await org.say("emp1", "hi")
    args = ["broadcast", "send", "--text", "Nieuws", "--text-en", "News in English"]
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, args, env=env)
    assert result.exit_code == 0, result.output
    async with engine.db.transaction(read_only=True) as session:
        stored = (await session.execute(select(Broadcast))).scalar_one()
    assert (stored.text, stored.text_en) == ("Nieuws", "News in English")


async def test_dashboard_forms_take_english_texts(
    engine: Engine, org: Org, client: TestClient
) -> None:
    csrf = await log_in(client, engine, org.people["olga"])
    form = {"csrf": csrf, "question": "Pauze?", "options": "Ja\nNee"}
    page = await (await client.get("/admin/polls/new")).text()
    assert 'name="question_en"' in page and 'name="options_en"' in page
    wrong = await client.post(
        "/admin/polls", data=form | {"question_en": "Break?", "options_en": "Yes"}
    )
    assert (
        wrong.status == 400 and "elke antwoordmogelijkheid een Engelse tekst" in await wrong.text()
    )
    english = {"question_en": "Break?", "options_en": "Yes\nNo"}
    response = await client.post("/admin/polls", data=form | english, allow_redirects=False)
    assert response.status == 303
    async with engine.db.transaction(read_only=True) as session:
        poll = (await session.execute(select(Poll))).scalar_one()
        labels = (await session.execute(select(PollOption.label_en))).scalars().all()
    assert poll.question_en == "Break?" and sorted(labels) == ["No", "Yes"]
    await org.say("emp1", "hi")
    page = await (await client.get("/admin/broadcasts")).text()
    assert 'name="text_en"' in page
    news = {"csrf": csrf, "text": "Nieuws", "text_en": "News", "when": "now"}
    response = await client.post("/admin/broadcasts", data=news, allow_redirects=False)
    assert response.status == 303, await response.text()
    async with engine.db.transaction(read_only=True) as session:
        stored = (await session.execute(select(Broadcast))).scalar_one()
    assert stored.text_en == "News"


async def test_an_edit_keeps_the_english_only_with_the_same_dutch(engine: Engine, org: Org) -> None:
    """The chat's edit asks for no English: the stored English stays while the Dutch is the
    same, and goes when the Dutch changed (it would no longer say the same)."""
    await org.say("emp1", "hi")
    actor = broadcasts.Actor(org.people["olga"].id, frozenset(org.roles["olga"]))
    later = engine.clock() + timedelta(days=1)
    draft = broadcasts.Draft(text="Dicht.", text_en="Closed.", at=later)

    async def run(fn: Callable[[Services], Awaitable[broadcasts.Saved]]) -> broadcasts.Saved:
        async with engine.db.transaction() as session:
            return await fn(engine.services(session))

    saved = await run(lambda s: broadcasts.create(s, draft, actor))
    same = replace(draft, text_en=None, at=later + timedelta(hours=1))
    await run(lambda s: broadcasts.edit(s, saved.id, same, actor))
    assert (await _broadcast(engine, saved.id)).text_en == "Closed."
    changed = replace(same, text="Open.")
    await run(lambda s: broadcasts.edit(s, saved.id, changed, actor))
    assert (await _broadcast(engine, saved.id)).text_en is None


async def _broadcast(engine: Engine, broadcast_id: int) -> Broadcast:
    async with engine.db.transaction(read_only=True) as session:
        found = await session.get(Broadcast, broadcast_id)
    assert found is not None
    return found
