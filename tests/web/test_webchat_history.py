"""The web chat when it is opened again: its recent history, what is open for the person, a
greeting by first name, the language switch without a reload, and buttons that go once used."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update

from adapters.web import account_of
from bot.config import Settings
from bot.engine import Engine
from bot.seal import Sealer
from storage.models import Person, utcnow
from storage.web import WebMailbox
from storage.web_models import WebMessage
from tests.e2e.support import another_browser, client_for, form_csrf, invite_link, join_chat
from tests.support.org import Org
from tests.support.polls import create_poll

FETCH = {"X-Requested-With": "fetch"}


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    async with client_for(settings) as client:
        yield client


async def _post(client: Any, path: str, csrf: str, **fields: str) -> dict[str, Any]:
    response = await client.post(path, data={"csrf": csrf, **fields}, headers=FETCH)
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def _rename(engine: Engine, person: Person, name: str) -> None:
    async with engine.db.transaction() as session:
        await session.execute(update(Person).where(Person.id == person.id).values(name=name))


async def test_reopened_chat_shows_its_history_and_greets_by_first_name(
    client: TestClient, engine: Engine, org: Org
) -> None:
    await _rename(engine, org.people["emp0"], "Anouk de Vries")
    csrf = await join_chat(client, engine, org.people["emp0"])
    shown = await _post(client, "/chat/poll", csrf, after="0")
    reply = await _post(client, "/chat/send", csrf, text="menu", after=str(_last(shown, 0)))
    # The browser has shown everything; the chat is closed and opened again.
    await _post(client, "/chat/poll", csrf, after=str(_last(reply, 0)))
    page = await (await client.get("/chat")).text()
    assert '<h1 id="greeting" data-t="webchat.greeting">Hallo Anouk!</h1>' in page
    assert page.count('class="msg bot"') >= 2  # the greeting on joining and the menu
    assert 'data-id="' in page


async def test_history_is_only_the_persons_own_and_sealed_stays_sealed(
    client: TestClient, engine: Engine, org: Org, settings: Settings
) -> None:
    csrf = await join_chat(client, engine, org.people["emp0"])
    sealer = Sealer(settings.secret)
    secret = "Je geheime code is KX-4471."
    async with engine.db.transaction() as session:
        mailbox = WebMailbox(session)
        await mailbox.put(
            account_of(org.people["emp0"].id),
            sealer.seal({"text": secret, "choices": [], "sealed": True}),
            now=utcnow(),
        )
    await _post(client, "/chat/poll", csrf, after="0")
    # At rest the message is a token; the person's own page shows it again.
    async with engine.db.transaction(read_only=True) as session:
        rows = (await session.execute(select(WebMessage))).scalars().all()
    assert secret not in json.dumps([r.payload for r in rows])
    assert secret in await (await client.get("/chat")).text()
    # Another colleague's chat shows nothing of it.
    async with another_browser(client) as other:
        path = await invite_link(engine, org.people["emp2"])
        html = await (await other.get(path)).text()
        await other.post(path, data={"csrf": form_csrf(html)})
        page = await (await other.get("/chat")).text()
    assert secret not in page and "Hallo Emp2!" in page


async def test_history_respects_the_mailbox_retention(
    client: TestClient, engine: Engine, org: Org
) -> None:
    await join_chat(client, engine, org.people["emp0"])
    old = utcnow() - timedelta(days=engine.settings.web_mailbox_retention_days + 1)
    async with engine.db.transaction() as session:
        await WebMailbox(session).put(
            account_of(org.people["emp0"].id), {"text": "Heel oud bericht", "choices": []}, now=old
        )
    page = await (await client.get("/chat")).text()
    assert "Heel oud bericht" not in page and "Hallo Emp0!" in page


async def test_only_the_newest_messages_are_kept_once_shown(engine: Engine, org: Org) -> None:
    account = account_of(org.people["emp0"].id)
    async with engine.db.transaction() as session:
        mailbox = WebMailbox(session)
        ids = [await mailbox.put(account, {"text": f"m{i}"}, now=utcnow()) for i in range(60)]
        await mailbox.acknowledge(account, ids[-1])
        kept = await mailbox.recent(account, since=utcnow() - timedelta(days=1))
    assert [m.payload["text"] for m in kept] == [f"m{i}" for i in range(10, 60)]


async def test_open_polls_are_listed_and_marked_once_answered(
    client: TestClient, engine: Engine, org: Org
) -> None:
    poll_id, options = await create_poll(engine, ["Ja", "Nee"], question="Vrijdag thuiswerken?")
    csrf = await join_chat(client, engine, org.people["emp0"])
    page = await (await client.get("/chat")).text()
    assert f"Peiling {poll_id}: Vrijdag thuiswerken?" in page and "nog te doen" in page
    assert 'value="menu:polls"' in page
    answer = await _post(
        client, "/chat/send", csrf, choice=f"poll:{poll_id}:vote:{options[0]}", after="0"
    )
    assert "al gedaan" in answer["open"] and "nog te doen" not in answer["open"]


async def test_nothing_open_says_so(client: TestClient, engine: Engine, org: Org) -> None:
    await join_chat(client, engine, org.people["emp0"])
    assert "Er staat nu niets open voor je." in await (await client.get("/chat")).text()


async def test_the_language_switch_carries_the_page_texts(
    client: TestClient, engine: Engine, org: Org
) -> None:
    csrf = await join_chat(client, engine, org.people["emp0"])
    quiet = await _post(client, "/chat/poll", csrf, after="0", lang="nl")
    assert quiet["lang"] == "nl" and "texts" not in quiet
    switched = await _post(client, "/chat/send", csrf, choice="lang:en", lang="nl", after="0")
    assert switched["lang"] == "en"
    texts = switched["texts"]
    assert texts["web.chat.send"] == "Send" and texts["webchat.greeting"] == "Hello Emp0!"
    assert texts["webchat.open_title"] == "Open for you" and "Nothing is open" in switched["open"]


async def test_a_pressed_button_is_not_offered_again(
    client: TestClient, engine: Engine, org: Org
) -> None:
    csrf = await join_chat(client, engine, org.people["emp0"])
    greeting = (await _post(client, "/chat/poll", csrf, after="0"))["messages"]
    menu = next(m for m in greeting if 'value="menu:language"' in m["html"])
    await _post(client, "/chat/send", csrf, choice="menu:language", ref=str(menu["id"]))
    page = await (await client.get("/chat")).text()
    start = page.index(f'data-id="{menu["id"]}"')
    shown = page[start : page.index("</article>", start)]
    assert 'value="menu:language"' not in shown and 'value="lang:en"' in page


def _last(body: dict[str, Any], default: int) -> int:
    return max((int(m["id"]) for m in body["messages"]), default=default)


async def test_a_vote_typed_settles_the_polls_buttons_too(
    client: TestClient, engine: Engine, org: Org
) -> None:
    poll_id, _options = await create_poll(engine, ["Ja", "Nee"], question="Vrijdag vrij?")
    csrf = await join_chat(client, engine, org.people["emp0"])
    shown = await _post(client, "/chat/send", csrf, text="peilingen", after="0")
    asked = next(m for m in shown["messages"] if f"poll:{poll_id}:vote:" in m["html"])
    typed = await _post(client, "/chat/send", csrf, text="nee", after=str(_last(shown, 0)))
    assert typed["answered"] == [asked["id"]]
    page = await (await client.get("/chat")).text()
    assert "Vrijdag vrij?" in page and f"poll:{poll_id}:vote:" not in page
    # Asked for again (to change the vote), the poll comes with its buttons.
    again = await _post(client, "/chat/send", csrf, text="peilingen", after=str(_last(typed, 0)))
    assert any(f"poll:{poll_id}:vote:" in m["html"] for m in again["messages"])
    # Something else typed settles nothing new.
    other = await _post(client, "/chat/send", csrf, text="help", after=str(_last(again, 0)))
    assert other["answered"] == []


async def test_a_language_changed_elsewhere_reaches_the_open_page(
    client: TestClient, engine: Engine, org: Org
) -> None:
    csrf = await join_chat(client, engine, org.people["emp0"])
    async with engine.db.transaction() as session:
        await session.execute(
            update(Person).where(Person.id == org.people["emp0"].id).values(language="en")
        )
    polled = await _post(client, "/chat/poll", csrf, after="0", lang="nl")
    assert polled["lang"] == "en" and polled["texts"]["web.chat.leave"] == "Log out"
