"""Hostile input gets a clear 4xx, never a 5xx, and leaves nothing behind (issue 11, finding 8).

One test per reproduced example: JSON nested 100,000 levels (Slack, Teams), a body that is not
UTF-8 under signature headers, a Slack timestamp or signature that is no number or not ASCII,
a signed block_actions without actions, media links with "²" or "é", a web chat button with a
superscript digit, a NUL in an answer; database outages that are not the client's fault
(503), and `serve` on a SQLite file it cannot open (one line, exit 1). Requests are signed
with the platforms' SDKs (slack_sdk, twilio) or real Bot Framework tokens, as in
tests/adapters.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select, text
from typer.testing import CliRunner

from bot.app import build_runtime
from bot.cli.main import app as cli_app
from bot.config import Settings
from bot.engine import Engine
from bot.errors import StoreUnavailable, Unstorable
from bot.i18n import t
from bot.media_links import media_url
from bot.messages import Incoming, Profile
from bot.text import ascii_int, has_foreign_digits, storable
from storage.db import Database
from storage.media import PROCESSED
from storage.models import Ballot, InboundEvent, OpenAnswer, OutboxMessage
from tests.adapters.conftest import AUTH_TOKEN, PUBLIC_URL
from tests.adapters.test_teams import Bot, serving
from tests.dialogs.test_open_question import make_question
from tests.e2e.support import client_for, join_chat
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.openid_keys import OpenIdKeys
from tests.fakes.slack_api import (
    FORM,
    JSON,
    Slack,
    actions_body,
    dm_event,
    event_body,
    signed_headers,
)
from tests.fakes.twilio_api import signature_headers
from tests.support.databases import count
from tests.support.org import Org
from tests.support.polls import create_poll

DEEP = 100_000
WEB_ROUTES_THAT_READ_THE_STORE = (
    "/admin", "/admin/polls", "/admin/login/abc", "/chat", "/chat/join/abc", "/readyz",
)  # fmt: skip
FETCH = {"X-Requested-With": "fetch"}


def nested(depth: int = DEEP) -> str:
    return "[" * depth + "]" * depth


# --- the ASCII rule and storable text ----------------------------------------------------------


def test_numbers_are_ascii_digits_only_and_bounded() -> None:
    assert ascii_int("12") == 12 and ascii_int("0") == 0
    for bad in (
        "²",
        "¹",
        "١٢",
        "１２",
        " 12",
        "12 ",
        "+1",
        "-1",
        "1_0",
        "1.0",
        "",
        "0x1",
        None,
        12,
    ):
        assert ascii_int(bad) is None, bad
    assert ascii_int("9" * 19) is None  # beyond a BIGINT
    assert ascii_int(str(2**63 - 1)) == 2**63 - 1
    assert ascii_int("3", low=1, high=2) is None and ascii_int("2", low=1, high=2) == 2
    assert has_foreign_digits("12:00 ¹") and has_foreign_digits("١٢:٠٠")
    assert not has_foreign_digits("morgen 17:00") and not has_foreign_digits("café")


def test_inbound_text_loses_nul_and_lone_surrogates() -> None:
    incoming = Incoming(
        channel="slack",
        event_id="Ev\x001",
        account="U\x001",
        text="Meer\x00 groen \ud800",
        choice="poll:1\x00",
        profile=Profile(name="Emp\x00", email="e\x00@x.org"),
        conversation_ref={"serviceUrl\x00": ["a\x00", {"b": "c\x00"}]},
    )
    assert incoming.text == "Meer groen \ufffd" and incoming.event_id == "Ev1"
    assert incoming.account == "U1" and incoming.choice == "poll:1"
    assert incoming.profile == Profile(name="Emp", email="e@x.org")
    assert incoming.conversation_ref == {"serviceUrl": ["a", {"b": "c"}]}
    assert storable("plain") == "plain"


# --- Slack -------------------------------------------------------------------------------------


async def post_raw(slack: Slack, body: bytes, headers: dict[str, str]) -> int:
    async with slack.http.post(slack.url + "/slack/events", data=body, headers=headers) as resp:
        return resp.status


async def test_slack_json_nested_100000_levels_is_400_signed_and_401_unsigned(
    slack: Slack, db: Database
) -> None:
    deep = nested()
    assert (await slack.post(deep))[0] == 400
    envelope = '{"type": "event_callback", "event": ' + deep + "}"
    assert (await slack.post(envelope))[0] == 400
    assert (await slack.post("payload=" + quote(deep), FORM))[0] == 400
    assert (await slack.post(deep, secret="not-the-secret"))[0] == 401
    assert await post_raw(slack, deep.encode(), {"Content-Type": JSON}) == 401
    assert await count(db, InboundEvent) == 0 and slack.api.calls == []


async def test_slack_body_that_is_not_utf8_is_400_and_stores_nothing(
    slack: Slack, db: Database
) -> None:
    """Slack sends UTF-8 only (and its SDK can only verify text): such a body is refused
    before its signature is looked at, whatever headers come with it."""
    body = b'{"type": "event_callback", "event": {"text": "\xff\xfe\xc3"}}'
    headers = signed_headers(body.decode("latin-1"), JSON)
    assert await post_raw(slack, body, headers) == 400
    assert await post_raw(slack, body, {"Content-Type": JSON}) == 400
    assert await count(db, InboundEvent) == 0


@pytest.mark.parametrize("stamp", ["soon", "²", "١٧٠٠٠٠٠٠٠٠", "", " 1", "1e9", "9" * 40])
async def test_slack_timestamp_that_is_no_ascii_number_is_401(
    slack: Slack, db: Database, stamp: str
) -> None:
    body = event_body(dm_event("UEMP0", "hallo"))
    headers = signed_headers(body, JSON)
    headers["X-Slack-Request-Timestamp"] = stamp
    assert await post_raw(slack, body.encode(), headers) == 401
    assert await count(db, InboundEvent) == 0


@pytest.mark.parametrize("signature", ["v0=é", "é", "v0=" + "ß" * 64, ""])
async def test_slack_signature_that_is_not_ascii_is_401(
    slack: Slack, db: Database, signature: str
) -> None:
    body = event_body(dm_event("UEMP0", "hallo"))
    headers = {**signed_headers(body, JSON), "X-Slack-Signature": signature}
    assert await post_raw(slack, body.encode(), headers) == 401
    assert await count(db, InboundEvent) == 0


async def test_slack_signed_block_actions_without_actions_is_400(
    slack: Slack, db: Database
) -> None:
    body = actions_body("UEMP0", "DEMP0:1.0", {"action_id": "achterban:choice:0", "value": "x"})
    payload = json.loads(unquote(body.removeprefix("payload=")))
    for actions in ([], [None], ["x"], {}, None):
        empty = "payload=" + quote(json.dumps({**payload, "actions": actions}))
        assert (await slack.post(empty, FORM))[0] == 400, actions
    assert await count(db, InboundEvent) == 0 and await count(db, Ballot) == 0


# --- Teams -------------------------------------------------------------------------------------


async def test_teams_json_nested_100000_levels_is_400(bot: Bot, engine: Engine, org: Org) -> None:
    as_json = {"Authorization": f"Bearer {bot.token()}", "Content-Type": "application/json"}
    deep = nested().encode()
    assert (await bot.post(None, headers=as_json, data=deep)).status == 400
    inside = json.dumps(bot.message("emp0", "hallo")).replace('"hallo"', nested(), 1).encode()
    assert (await bot.post(None, headers=as_json, data=inside)).status == 400
    assert await count(engine.db, InboundEvent) == 0


def emulator_activity(service_url: str, text: str = "hallo") -> dict[str, Any]:
    return {
        "type": "message", "id": f"emu-{time.time_ns()}", "channelId": "emulator",
        "serviceUrl": service_url, "text": text, "locale": "en-US",
        "from": {"id": "user-emu", "name": "Emu", "role": "user"},
        "recipient": {"id": "bot-emu", "name": "Bot", "role": "bot"},
        "conversation": {"id": "conv-emu|livechat"},
    }  # fmt: skip


async def test_teams_emulator_mode_posts_only_to_a_service_url_on_this_machine(
    settings: Settings,
    openid: OpenIdKeys,
    tmp_path: Path,
    engine: Engine,
) -> None:
    emulator = settings.model_copy(update={"teams_emulator": True, "membership": "open"})
    fake = FakeBotConnector("", "", require_auth=False)
    with fake.serve(tmp_path):
        async with serving(emulator, openid, fake) as running:
            port = fake.url.split(":")[-1].rstrip("/")
            for foreign in (
                f"http://evil.example:{port}/",
                f"https://10.0.0.5:{port}/",
                "http://127.0.0.1.evil.example/",
                "file:///etc/passwd",
                "http://[::1",
                "not a url",
            ):
                resp = await running.post(emulator_activity(foreign), headers={})
                assert resp.status == 403, foreign
            assert await count(engine.db, InboundEvent) == 0
            assert await count(engine.db, OutboxMessage) == 0
            # On this machine (where the Emulator runs) it works as before.
            local = fake.url.replace("127.0.0.1", "localhost")
            assert (await running.post(emulator_activity(local), headers={})).status == 200
            assert await running.deliver() == 1
            assert len(fake.sent("conv-emu|livechat")) == 1


# --- WhatsApp ----------------------------------------------------------------------------------


@pytest.fixture
async def whatsapp(wa_settings: Settings) -> AsyncIterator[TestClient]:
    from bot.server import create_web_app

    runtime = build_runtime(wa_settings)
    from aiohttp.test_utils import TestServer

    async with TestClient(TestServer(create_web_app(runtime, background=False))) as client:
        yield client


async def test_whatsapp_body_that_is_not_utf8_or_numbers_that_are_not_ascii(
    whatsapp: TestClient, engine: Engine, org: Org
) -> None:
    path = "/twilio/whatsapp"
    raw = b"MessageSid=SM1&From=whatsapp%3A%2B31612345678&Body=%FF%FE"
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": "c2lnbmF0dXJl",
    }
    response = await whatsapp.post(path, data=raw, headers=headers)
    assert 400 <= response.status < 500
    for number in ("١", "²", "1_0", " 1"):
        form = {
            "MessageSid": "SM" + "1" * 32,
            "From": "whatsapp:+31612345678",
            "Body": "hallo",
            "NumMedia": number,
        }
        signed = signature_headers(AUTH_TOKEN, PUBLIC_URL + path, form)
        assert (await whatsapp.post(path, data=form, headers=signed)).status == 400, number
    arabic = {"MessageSid": "SM" + "2" * 32, "From": "whatsapp:+٣١٦١٢٣٤٥٦٧٨", "Body": "hallo"}
    signed = signature_headers(AUTH_TOKEN, PUBLIC_URL + path, arabic)
    assert (await whatsapp.post(path, data=arabic, headers=signed)).status == 400
    assert await count(engine.db, InboundEvent) == 0


# --- media links -------------------------------------------------------------------------------


async def test_media_links_with_foreign_digits_or_non_ascii_signatures_are_403(
    settings: Settings,
) -> None:
    from aiohttp.test_utils import TestServer

    from bot.server import create_web_app

    runtime = build_runtime(settings)
    async with TestClient(TestServer(create_web_app(runtime, background=False))) as client:
        media_id = runtime.engine.media_store.put(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, PROCESSED)
        good = media_url(settings, media_id).split("/media/", 1)[1]
        _, query = good.split("?", 1)
        exp = query.split("exp=")[1].split("&")[0]
        sig = query.split("sig=")[1]
        assert (await client.get(f"/media/{good}")).status == 200
        for bad in (
            f"exp=²&sig={sig}",
            f"exp={exp}&sig=é",
            f"exp={exp}&sig={quote('é' * len(sig))}",
            f"exp={''.join(chr(0x660 + int(d)) for d in exp)}&sig={sig}",
            f"exp={'9' * 40}&sig={sig}",
            f"exp={exp}&sig=%FF",
        ):
            assert (await client.get(f"/media/{media_id}?{bad}")).status == 403, bad
        assert (await client.get(f"/media/%C3%A9?exp={exp}&sig={sig}")).status == 404


# --- web chat: buttons and NUL -----------------------------------------------------------------


@pytest.fixture
async def chat(settings: Settings) -> AsyncIterator[TestClient]:
    async with client_for(settings) as client:
        yield client


async def chat_send(client: TestClient, csrf: str, **fields: str) -> tuple[int, str]:
    """(status, the HTML of the messages the answer brought)."""
    response = await client.post(
        "/chat/send", data={"csrf": csrf, "after": "0", **fields}, headers=FETCH
    )
    if response.status != 200:
        return response.status, await response.text()
    answer = await response.json()
    return 200, "\n".join(m["html"] for m in answer["messages"])


async def test_web_chat_button_with_a_superscript_digit_is_refused_politely(
    chat: TestClient, engine: Engine, org: Org
) -> None:
    csrf = await join_chat(chat, engine, org.people["emp0"])
    poll_id, options = await create_poll(engine, ["Ja", "Nee"])
    invalid = t("nl", "common.button_invalid").split(".")[0]
    for n, value in enumerate(
        (
            "poll:¹:vote:1",
            f"poll:{poll_id}:vote:²",
            f"poll:{poll_id}:vote:١",
            f"poll:{'9' * 30}:vote:{options[0]}",
            f"poll:{poll_id}:vote:{'9' * 19}",
            "oq:¹:answer",
            "rm:²:publish",
            "nom:³:start",
            "nr:¹:yes",
        )
    ):
        status, html = await chat_send(chat, csrf, choice=value, event=f"bad-{n}")
        assert status == 200, (value, html)
        assert invalid in html, (value, html)
    assert await count(engine.db, Ballot) == 0


async def test_a_nul_in_an_answer_is_stripped_and_the_answer_saved(
    chat: TestClient, engine: Engine, org: Org
) -> None:
    """PostgreSQL refuses text with a NUL: this answered 500 every time, on every retry."""
    csrf = await join_chat(chat, engine, org.people["emp0"])
    question_id = await make_question(engine)
    assert (await chat_send(chat, csrf, choice=f"oq:{question_id}:answer", event="q-1"))[0] == 200
    assert (await chat_send(chat, csrf, text="Meer\x00 groen\x00", event="q-2"))[0] == 200
    async with engine.db.transaction(read_only=True) as session:
        answers = (await session.execute(select(OpenAnswer.text))).scalars().all()
    assert answers == ["Meer groen"]


# --- the store down or refusing a value --------------------------------------------------------


def pg_url(database_url: str, *, port: int | None = None, name: str | None = None) -> str:
    base, _, current = database_url.rpartition("/")
    if port is not None:
        host, _, _old = base.rpartition(":")
        base = f"{host}:{port}"
    return f"{base}/{name or current}"


@pytest.fixture
def outages(database_url: str, tmp_path: Path) -> dict[str, str]:
    """A store that cannot be reached or opened, for the backend under test."""
    if database_url.startswith("sqlite"):
        garbage = tmp_path / "garbage.db"
        garbage.write_bytes(b"this is not a database " * 100)
        (tmp_path / "a-directory.db").mkdir()
        return {
            "no database file": f"sqlite+aiosqlite:///{garbage}",
            "a directory": f"sqlite+aiosqlite:///{tmp_path / 'a-directory.db'}",
            "no such directory": f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'x.db'}",
        }
    return {
        "wrong database name": pg_url(database_url, name="no_such_database_for_achterban"),
        "connection refused": pg_url(database_url, port=1),
        "wrong user": database_url.replace("//postgres@", "//no_such_role_achterban@", 1),
    }


async def test_every_outage_is_store_unavailable(outages: dict[str, str]) -> None:
    for why, url in outages.items():
        database = Database(url)
        try:
            with pytest.raises(StoreUnavailable):
                async with database.transaction() as session:
                    await session.execute(text("SELECT 1"))
            with pytest.raises(StoreUnavailable):
                async with database.event() as unit:
                    assert unit is not None, why
        finally:
            await database.dispose()


async def test_outages_answer_503_on_the_web_routes(
    settings: Settings, outages: dict[str, str]
) -> None:
    for why, url in outages.items():
        broken = settings.model_copy(update={"database_url": url})
        async with client_for(broken) as client:
            # With session cookies (made up): a page that must look the session up.
            client.session.cookie_jar.update_cookies(
                {"achterban_chat": "x" * 43, "achterban_admin": "y" * 43}
            )
            for path in (
                "/admin",
                "/admin/polls",
                "/admin/login/abc",
                "/chat",
                "/chat/join/abc",
                "/readyz",
            ):
                response = await client.get(path, allow_redirects=False)
                assert response.status == 503, (why, path, response.status)


async def test_outages_answer_503_to_a_signed_slack_event(
    slack: Slack, settings: Settings, outages: dict[str, str]
) -> None:
    from aiohttp.test_utils import TestServer

    from bot.server import create_web_app
    from tests.fakes.slack_api import slack_settings

    for why, url in outages.items():
        runtime = build_runtime(slack_settings(settings, slack.api, database_url=url))
        server = TestServer(create_web_app(runtime, background=False), host="127.0.0.1")
        await server.start_server()
        body = event_body(dm_event("UEMP0", "hallo"))
        try:
            async with slack.http.post(
                server.make_url("/slack/events"), data=body, headers=signed_headers(body, JSON)
            ) as resp:
                assert resp.status == 503, why
        finally:
            await server.close()


async def test_a_value_the_store_refuses_is_unstorable_and_nothing_is_written(
    db: Database,
) -> None:
    from storage.models import Person

    with pytest.raises(Unstorable):
        async with db.transaction() as session:
            session.add(Person(name="Ok", email="ok@example.org"))
            await session.flush()
            # Too long for the column on PostgreSQL; beyond SQLite's integers on SQLite.
            if db.is_sqlite:
                await session.execute(text("SELECT :n"), {"n": 2**70})
            else:
                session.add(Person(name="x" * 201, email="long@example.org"))
                await session.flush()
    assert await count(db, Person) == 0


# --- serve on a SQLite file it cannot open -----------------------------------------------------


@pytest.mark.parametrize("kind", ["not a database", "a directory"])
def test_serve_on_an_unreadable_sqlite_file_says_so_in_one_line(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "achterban.db"
    if kind == "a directory":
        path.mkdir()
    else:
        path.write_bytes(b"\x00garbage, not SQLite" * 200)
    env = {
        "ACHTERBAN_DATABASE_URL": f"sqlite+aiosqlite:///{path}",
        "ACHTERBAN_DATA_DIR": str(tmp_path),
        "ACHTERBAN_SECRET_KEY": "k" * 48,
    }
    result = CliRunner().invoke(cli_app, ["serve", "--port", "1"], env=env)
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "Cannot open the SQLite database" in lines[0] and str(path) in lines[0]
    assert "Traceback" not in result.output
