"""An author's optional English texts on the dashboard (issue 13, texts): an English-speaking
OR member reads the English question, option labels and broadcast text on the list, detail and
live pages; a Dutch one the Dutch; without an English text both read the Dutch."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import update

from bot.config import Settings
from bot.engine import Engine
from bot.usecases import broadcasts, questions
from bot.usecases import polls as poll_cases
from bot.usecases.polls import PollDraft
from storage.models import Person
from storage.people import Audience
from tests.e2e.support import client_for, log_in, set_roles
from tests.support.org import Org

DUTCH = {
    "poll": "Vier dagen werken in de week?",
    "options": ["Thuiswerken graag", "Liever op kantoor"],
    "question": "Wat kan er beter in de kantine?",
    "broadcast": "De kantine is morgen dicht.",
}
ENGLISH = {
    "poll": "Work four days a week?",
    "options": ["Working from home please", "Rather at the office"],
    "question": "What could be better in the canteen?",
    "broadcast": "The canteen is closed tomorrow.",
}


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    async with client_for(settings) as client:
        yield client


async def _seed(engine: Engine, org: Org, *, english: bool) -> dict[str, int]:
    """A poll, a question and a broadcast, each with an English text when `english`."""
    olga = org.people["olga"]
    en = ENGLISH if english else None
    async with engine.db.transaction() as session:
        services = engine.services(session)
        draft = PollDraft(
            question=DUTCH["poll"],
            options=DUTCH["options"],
            question_en=en["poll"] if en else None,
            options_en=en["options"] if en else None,
        )
        poll = await poll_cases.create_poll(services, draft, actor_id=olga.id)
        question = await questions.create(
            services,
            text=DUTCH["question"],
            text_en=en["question"] if en else None,
            anonymous=True,
            audience=Audience(),
            closes_at=None,
            created_by=olga.id,
        )
        actor = broadcasts.Actor(olga.id, frozenset({"or_member"}))
        bdraft = broadcasts.Draft(DUTCH["broadcast"], text_en=en["broadcast"] if en else None)
        sent = await broadcasts.create(services, bdraft, actor)
    return {"poll": poll.poll.id, "question": question.question.id, "broadcast": sent.id}


async def _pages(client: TestClient, ids: dict[str, int]) -> dict[str, str]:
    paths = {
        "polls": "/admin/polls",
        "poll": f"/admin/polls/{ids['poll']}",
        "live": f"/admin/polls/{ids['poll']}/live",
        "questions": "/admin/questions",
        "question": f"/admin/questions/{ids['question']}",
        "broadcasts": "/admin/broadcasts",
        "broadcast": f"/admin/broadcasts/{ids['broadcast']}",
    }
    pages = {}
    for name, path in paths.items():
        response = await client.get(path)
        assert response.status == 200, path
        pages[name] = await response.text()
    return pages


def _expect(pages: dict[str, str], shown: dict[str, object], hidden: dict[str, object]) -> None:
    def check(names: tuple[str, ...], key: str) -> None:
        for name in names:
            assert str(shown[key]) in pages[name], (name, shown[key])
            assert str(hidden[key]) not in pages[name], (name, hidden[key])

    check(("polls", "poll"), "poll")
    check(("questions", "question"), "question")
    check(("broadcasts", "broadcast"), "broadcast")
    for i in range(2):
        for name in ("poll", "live"):
            label = shown["options"][i]  # type: ignore[index]
            other = hidden["options"][i]  # type: ignore[index]
            assert label in pages[name] and other not in pages[name], (name, label)


@pytest.mark.parametrize("lang", ["nl", "en"])
@pytest.mark.parametrize("english", [True, False], ids=["with_english", "dutch_only"])
async def test_author_texts_in_the_visitors_language(
    client: TestClient, engine: Engine, org: Org, lang: str, english: bool
) -> None:
    olga = org.people["olga"]
    await set_roles(engine, olga, {"or_member", "admin", "moderator"})
    async with engine.db.transaction() as session:
        await session.execute(update(Person).where(Person.id == olga.id).values(language=lang))
    ids = await _seed(engine, org, english=english)
    await log_in(client, engine, olga)
    pages = await _pages(client, ids)
    if lang == "en" and english:
        _expect(pages, ENGLISH, DUTCH)  # type: ignore[arg-type]
    elif english:
        _expect(pages, DUTCH, ENGLISH)  # type: ignore[arg-type]
    else:  # no English written: both read the Dutch (and no English leaks from anywhere)
        _expect(pages, DUTCH, ENGLISH)  # type: ignore[arg-type]
