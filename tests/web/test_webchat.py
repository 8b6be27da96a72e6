"""The web chat channel: invitation, session, messages through the engine, buttons, photos."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from PIL import Image
from sqlalchemy import func, select

from adapters.web import WebAdapter, account_of
from bot.config import Settings
from bot.delivery import DeliveryWorker
from bot.engine import Engine
from bot.messages import DeliveryError, MediaRef, Outgoing, Recipient
from bot.web.chat_views import mount
from storage.media import ORIGINAL, PROCESSED, MediaStore
from storage.models import Ballot, ChannelAccount, InboundEvent, utcnow
from storage.web_models import WebMessage
from tests.e2e.support import client_for, form_csrf, invite_link, join_chat
from tests.support.org import Org
from tests.support.polls import create_poll

FETCH = {"X-Requested-With": "fetch"}


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    async with client_for(settings) as client:
        yield client


async def _send(client: TestClient, csrf: str, after: int = 0, **fields: str) -> dict[str, Any]:
    response = await client.post(
        "/chat/send", data={"csrf": csrf, "after": str(after), **fields}, headers=FETCH
    )
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def _count(engine: Engine, model: Any) -> int:
    async with engine.db.transaction(read_only=True) as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_an_invitation_opens_the_chat_with_a_greeting(
    client: TestClient, engine: Engine, org: Org
) -> None:
    assert (await client.get("/chat")).status == 403
    await join_chat(client, engine, org.people["emp1"])
    page = await client.get("/chat")
    html = await page.text()
    assert page.status == 200 and 'lang="en"' in html  # emp1 reads English
    assert "Hello Emp1!" in html and 'value="menu:polls"' in html
    async with engine.db.transaction(read_only=True) as session:
        account = (
            await session.execute(select(ChannelAccount).where(ChannelAccount.channel == "web"))
        ).scalar_one()
    assert account.person_id == org.people["emp1"].id
    assert account.platform_id == account_of(org.people["emp1"].id)


async def test_an_invitation_works_once(client: TestClient, engine: Engine, org: Org) -> None:
    path = await invite_link(engine, org.people["emp0"])
    html = await (await client.get(path)).text()
    first = await client.post(path, data={"csrf": form_csrf(html)}, allow_redirects=False)
    assert first.status == 303
    assert first.cookies["achterban_chat"]["path"] == "/chat"
    assert first.cookies["achterban_chat"]["httponly"]
    assert (await client.get(path)).status == 410


async def test_vote_with_a_button_in_the_web_chat(
    client: TestClient, engine: Engine, org: Org
) -> None:
    csrf = await join_chat(client, engine, org.people["emp0"])
    poll_id, options = await create_poll(engine, ["Ja", "Nee"], question="Thuiswerken?")
    # The poll went to emp0's web chat (their most recent channel); the page asks for it.
    polled = await client.post("/chat/poll", data={"csrf": csrf}, headers=FETCH)
    messages = (await polled.json())["messages"]
    poll_message = next(m for m in messages if "Thuiswerken?" in m["html"])
    assert f'value="poll:{poll_id}:vote:{options[1]}"' in poll_message["html"]
    answer = await _send(
        client,
        csrf,
        after=poll_message["id"],
        choice=f"poll:{poll_id}:vote:{options[1]}",
        ref=str(poll_message["id"]),
        event="double-click-1",
    )
    (reply,) = answer["messages"]
    assert "Nee" in reply["html"] and reply["replaces"] == str(poll_message["id"])
    # The same submission again (a double click) is one event, not two.
    await _send(client, csrf, choice=f"poll:{poll_id}:vote:{options[0]}", event="double-click-1")
    async with engine.db.transaction(read_only=True) as session:
        ballots = (await session.execute(select(Ballot))).scalars().all()
    assert [(b.option_id, b.channel) for b in ballots] == [(options[1], "web")]
    # Shown messages stay as the chat's history; the answered poll comes back without buttons.
    await client.post("/chat/poll", data={"csrf": csrf, "after": str(reply["id"])}, headers=FETCH)
    assert await _count(engine, WebMessage) == 3
    reopened = await (await client.get("/chat")).text()
    assert "Thuiswerken?" in reopened and f'value="poll:{poll_id}:vote:' not in reopened


async def test_multiple_choice_ticks_are_joined(
    client: TestClient, engine: Engine, org: Org
) -> None:
    csrf = await join_chat(client, engine, org.people["emp0"])
    poll_id, options = await create_poll(engine, ["A", "B", "C"], multiple=True)
    messages = (await _send(client, csrf, text="peilingen"))["messages"]
    html = next(m["html"] for m in messages if 'name="pick"' in m["html"])
    assert 'type="checkbox"' in html and "<label for=" in html
    form = FormData()
    form.add_field("csrf", csrf)
    for option in (options[0], options[2]):
        form.add_field("pick", f"poll:{poll_id}:vote:{option}")
    response = await client.post("/chat/send", data=form, headers=FETCH)
    assert response.status == 200
    async with engine.db.transaction(read_only=True) as session:
        chosen = (await session.execute(select(Ballot.option_id))).scalars().all()
    assert sorted(chosen) == [options[0], options[2]]


async def test_typed_text_reaches_the_engine_and_script_is_text(
    client: TestClient, engine: Engine, org: Org
) -> None:
    csrf = await join_chat(client, engine, org.people["emp0"])
    await create_poll(engine, ["<script>alert(1)</script>", "Nee"], question="<img src=x>")
    messages = (await _send(client, csrf, text="peilingen"))["messages"]
    html = "".join(m["html"] for m in messages)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x&gt;" in html
    assert "<script>" not in html and "<img" not in html


async def test_no_session_or_no_token_changes_nothing(
    client: TestClient, engine: Engine, org: Org
) -> None:
    assert (await client.post("/chat/send", data={"text": "hallo"})).status == 403
    csrf = await join_chat(client, engine, org.people["emp0"])
    events = await _count(engine, InboundEvent)
    assert (await client.post("/chat/send", data={"text": "hallo"})).status == 403
    assert (await client.post("/chat/send", data={"text": "x", "csrf": "0" * 64})).status == 403
    assert (await client.post("/chat/poll", data={})).status == 403
    assert await _count(engine, InboundEvent) == events
    left = await client.post("/chat/leave", data={"csrf": csrf})
    assert left.status == 200
    assert (await client.get("/chat")).status == 403


def _photo_form(csrf: str, data: bytes) -> FormData:
    form = FormData()
    form.add_field("csrf", csrf)
    form.add_field("text", "")
    form.add_field("photo", data, filename="../../etc/passwd.jpg", content_type="image/jpeg")
    return form


def _jpeg(width: int = 64, height: int = 48) -> bytes:
    image = io.BytesIO()
    Image.new("RGB", (width, height), (90, 140, 200)).save(image, "JPEG")
    return image.getvalue()


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


async def test_a_photo_is_handed_to_the_engine_and_not_kept(
    client: TestClient, engine: Engine, org: Org, settings: Settings
) -> None:
    csrf = await join_chat(client, engine, org.people["emp0"])
    events = await _count(engine, InboundEvent)
    before = _files(settings.data_dir)
    photo = _jpeg()
    response = await client.post("/chat/send", data=_photo_form(csrf, photo), headers=FETCH)
    assert response.status == 200 and (await response.json())["notice"] is None
    assert await _count(engine, InboundEvent) == events + 1
    # The report dialog took it: the media store has the original, nothing else was written.
    (original,) = _files(settings.data_dir) - before
    assert original.read_bytes() == photo and original.parent.parent.name == "original"
    adapter = mount(settings, engine).adapter
    assert isinstance(adapter, WebAdapter)
    held = adapter.uploads.hold(photo, "image/jpeg")
    assert held.url.startswith("web-upload:") and "passwd" not in held.url
    assert await adapter.fetch_media(held) == photo
    adapter.uploads.drop(held)
    name = held.url.removeprefix("web-upload:")
    for forged in (held.url, "web-upload:../secret_key", "file:///etc/passwd", f"http://x/{name}"):
        with pytest.raises(DeliveryError):
            await adapter.fetch_media(MediaRef(url=forged))


async def test_a_photo_over_the_limit_is_refused(
    client: TestClient, engine: Engine, org: Org, settings: Settings
) -> None:
    small = settings.model_copy(update={"media_max_bytes": 1000})
    async with client_for(small) as limited:
        csrf = await join_chat(limited, engine, org.people["emp0"])
        events = await _count(engine, InboundEvent)
        before = _files(settings.data_dir)
        response = await limited.post(
            "/chat/send", data=_photo_form(csrf, b"x" * 1001), headers=FETCH
        )
        body = await response.json()
    assert "te groot" in body["notice"]
    assert await _count(engine, InboundEvent) == events
    assert _files(settings.data_dir) == before


async def test_without_script_the_forms_still_work(
    client: TestClient, engine: Engine, org: Org
) -> None:
    csrf = await join_chat(client, engine, org.people["emp0"])
    response = await client.post("/chat/send", data={"csrf": csrf, "text": "help"})
    assert response.status == 200 and str(response.url).endswith("/chat")
    assert "Wat je kunt doen" in await response.text()


async def test_the_delivery_worker_fills_the_mailbox(
    engine: Engine, org: Org, settings: Settings, tmp_path: Path
) -> None:
    """A server's own worker (not the browser) may deliver too: the mailbox keeps it."""
    adapter = mount(settings, engine).adapter
    assert isinstance(adapter, WebAdapter)
    async with engine.db.transaction() as session:
        await engine.services(session).outbox.add(
            "web", "person-1", None, Outgoing(text="Hallo", choices=()), now=utcnow()
        )
    assert await DeliveryWorker(engine.db, settings, {"web": adapter}).drain() == 1
    async with engine.db.transaction(read_only=True) as session:
        (message,) = (await session.execute(select(WebMessage))).scalars().all()
    assert message.account == "person-1" and message.payload["text"] == "Hallo"
    rendered = adapter.render(Outgoing(text="x"))
    assert json.loads(json.dumps(rendered)) == rendered
    result = await adapter.send(Recipient("person-2"), rendered)
    assert result.platform_message_id is not None and result.platform_message_id.isdigit()


async def test_photos_in_messages_are_shown(
    client: TestClient, engine: Engine, org: Org, settings: Settings
) -> None:
    store = MediaStore(settings.data_dir / "media")
    processed = store.put(b"\xff\xd8\xff blurred", PROCESSED)
    original = store.put(b"\xff\xd8\xff original", ORIGINAL)
    await join_chat(client, engine, org.people["emp0"])
    account = account_of(org.people["emp0"].id)
    async with engine.db.transaction() as session:
        await engine.services(session).outbox.add(
            "web",
            account,
            org.people["emp0"].id,
            Outgoing(text="Kijk", images=(processed,)),
            now=utcnow(),
        )
    html = await (await client.get("/chat")).text()
    assert f'src="/chat/media/{processed}"' in html and 'alt="Foto 1 in dit bericht"' in html
    image = await client.get(f"/chat/media/{processed}")
    assert image.status == 200 and await image.read() == b"\xff\xd8\xff blurred"
    assert (await client.get(f"/chat/media/{original}")).status == 403  # not a moderator
    assert (await client.get("/chat/media/../secret_key")).status in (403, 404)
    assert (await client.get("/chat/media/p-" + "0" * 64)).status == 404
    client.session.cookie_jar.clear()
    assert (await client.get(f"/chat/media/{processed}")).status == 403


async def test_a_photo_from_the_web_chat_reaches_the_report_dialog(
    client: TestClient, engine: Engine, org: Org
) -> None:
    """The runtime fetches the upload back through the web adapter, like any channel's media."""
    csrf = await join_chat(client, engine, org.people["emp0"])
    started = await _send(client, csrf, text="melding")
    assert any("foto" in m["html"].lower() for m in started["messages"])
    image = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 140, 200)).save(image, "JPEG")
    response = await client.post(
        "/chat/send", data=_photo_form(csrf, image.getvalue()), headers=FETCH
    )
    replies = " ".join(m["html"] for m in (await response.json())["messages"])
    assert "1 foto ontvangen" in replies
