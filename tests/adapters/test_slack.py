"""Slack end to end: our real server and bolt, signed requests, a fake Web API on loopback.

Every test runs on SQLite and PostgreSQL (the `org` fixture). Requests to /slack/events are
signed by slack_sdk's SignatureVerifier; replies are delivered by the real DeliveryWorker to
the fake Slack API (tests/fakes/slack_api.py), which records what it was sent.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from sqlalchemy import select
from typer.testing import CliRunner

from adapters.media import MediaRefused
from adapters.slack import SlackAdapter
from adapters.slack_parse import incoming_from_message
from bot.app import build_runtime
from bot.cli.slack import slack_app
from bot.config import Settings
from bot.engine import Engine
from bot.i18n import t
from bot.messages import MediaRef, Outgoing
from bot.privacy import dedupe_key
from bot.server import create_web_app
from dialogs.poll import vote_payload
from storage.db import Database
from storage.models import Ballot, ChannelAccount, InboundEvent, OutboxMessage, Person, utcnow
from tests.fakes.slack_api import (
    FORM,
    JSON,
    TOKEN,
    FakeSlackApi,
    Slack,
    block_elements,
    command_body,
    dm_event,
    event_body,
    signed_headers,
    slack_settings,
)
from tests.support.databases import count
from tests.support.org import Org
from tests.support.polls import create_poll


@pytest.fixture
async def slack_api() -> AsyncIterator[FakeSlackApi]:
    api = await FakeSlackApi().start()
    for key in ("olga", "emp0", "emp1"):
        api.add_user(f"U{key.upper()}", f"{key}@example.org", key.capitalize())
    yield api
    await api.stop()


@pytest.fixture
async def slack(org: Org, settings: Settings, slack_api: FakeSlackApi) -> AsyncIterator[Slack]:
    runtime = build_runtime(slack_settings(settings, slack_api))
    assert runtime.channel_notes["slack"] == "on"
    server = TestServer(create_web_app(runtime, background=False), host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        yield Slack(slack_api, runtime, str(server.make_url("")).rstrip("/"), http)
    await server.close()  # closes the runtime: adapter sessions, database


async def outbox_rows(db: Database, *where: Any) -> list[OutboxMessage]:
    async with db.transaction(read_only=True) as session:
        stmt = select(OutboxMessage).where(*where).order_by(OutboxMessage.id)
        return list((await session.execute(stmt)).scalars())


async def greet(slack: Slack, user: str = "UEMP0") -> None:
    """A first message links the Slack user to the roster person with that e-mail."""
    assert await slack.dm(user, "hallo") == 200
    assert await slack.deliver() == 1


# --- the whole way round ---------------------------------------------------------------------


async def test_greeting_poll_button_vote_and_updated_message(
    slack: Slack, engine: Engine, db: Database, org: Org
) -> None:
    await greet(slack)
    greeting = slack.posted()[-1]
    assert greeting["channel"] == "DEMP0"
    assert "Emp0" in greeting["text"]
    assert await count(db, ChannelAccount, ChannelAccount.platform_id == "UEMP0") == 1

    question = "Pauze <!channel> & meer?"
    poll_id, options = await create_poll(engine, ["Ja", "Nee", "Weet niet"], question=question)
    assert await slack.deliver() == 1  # only emp0 is on Slack; the others wait on the console
    poll_message = slack.posted()[-1]
    buttons = block_elements(poll_message)
    assert [b["type"] for b in buttons] == ["button"] * 3
    assert [b["value"] for b in buttons] == [vote_payload(poll_id, o) for o in options]
    assert len({b["action_id"] for b in buttons}) == 3
    assert "Pauze &lt;!channel&gt; &amp; meer?" in poll_message["blocks"][0]["text"]["text"]

    ref = slack.last_ref()
    assert await slack.press("UEMP0", ref, buttons[1]) == 200
    async with db.transaction(read_only=True) as session:
        ballots = (await session.execute(select(Ballot))).scalars().all()
    assert [(b.person_id, b.option_id, b.channel) for b in ballots] == [
        (org.people["emp0"].id, options[1], "slack")
    ]

    assert await slack.deliver() == 1
    [update] = slack.api.calls_to("chat.update")
    assert f"{update.args['channel']}:{update.args['ts']}" == ref
    assert "Nee" in update.args["text"]
    assert slack.api.messages[ref]["text"] == update.args["text"]
    assert len(slack.api.calls_to("conversations.open")) == 1  # the DM channel is cached
    assert all(c.authorized for c in slack.api.calls)


async def test_multiple_choice_is_checkboxes_and_one_submission(
    slack: Slack, engine: Engine, db: Database
) -> None:
    await greet(slack)
    _poll, options = await create_poll(engine, ["A", "B", "C"], multiple=True)
    await slack.deliver()
    [boxes, submit] = block_elements(slack.posted()[-1])
    assert boxes["type"] == "checkboxes" and submit["type"] == "button"
    ref = slack.last_ref()
    ticked = [boxes["options"][0], boxes["options"][2]]
    # Ticking a box only changes state; Slack still tells us, and nothing may happen.
    assert await slack.press("UEMP0", ref, {**boxes, "selected_options": ticked[:1]}) == 200
    assert await count(db, Ballot) == 0
    element = {"type": "checkboxes", "selected_options": ticked}
    state = {"values": {"achterban-choices": {boxes["action_id"]: element}}}
    assert await slack.press("UEMP0", ref, submit, state=state) == 200
    async with db.transaction(read_only=True) as session:
        chosen = set((await session.execute(select(Ballot.option_id))).scalars())
    assert chosen == {options[0], options[2]}


async def test_more_than_five_choices_become_a_select(
    slack: Slack, engine: Engine, db: Database
) -> None:
    await greet(slack)
    _poll, options = await create_poll(engine, [f"Optie {i}" for i in range(1, 8)])
    await slack.deliver()
    [select_menu] = block_elements(slack.posted()[-1])
    assert select_menu["type"] == "static_select" and len(select_menu["options"]) == 7
    picked = select_menu["options"][5]
    action = {
        "type": "static_select",
        "action_id": select_menu["action_id"],
        "selected_option": picked,
    }
    assert await slack.press("UEMP0", slack.last_ref(), action) == 200
    assert await count(db, Ballot, Ballot.option_id == options[5]) == 1


async def test_or_command_opens_the_menu(slack: Slack) -> None:
    status, body = await slack.post(command_body("UOLGA"), FORM)
    assert (status, body) == (200, "")
    await slack.deliver()
    menu = slack.posted()[-1]
    assert menu["text"].startswith(t("nl", "menu.greeting", name="Olga"))
    labels = [b["text"]["text"] for b in block_elements(menu)]
    assert t("nl", "menu.button_new_poll") in labels  # olga is an OR member


async def test_app_mention_answers_in_a_direct_message(slack: Slack) -> None:
    event = {
        "type": "app_mention",
        "user": "UEMP1",
        "text": "<@UBOT0001> menu",
        "ts": "1.2",
        "channel": "C0GENERAL",
        "event_ts": "1.2",
    }
    status, _ = await slack.post(event_body(event))
    assert status == 200
    await slack.deliver()
    assert slack.posted()[-1]["channel"] == "DEMP1"
    # The bot's own mention is dropped, so "menu" is the command; emp1 reads English.
    assert slack.posted()[-1]["text"].startswith(t("en", "menu.greeting", name="Emp1"))


async def test_app_home_shows_a_greeting(slack: Slack, db: Database) -> None:
    event = {
        "type": "app_home_opened",
        "user": "UEMP0",
        "channel": "DEMP0",
        "tab": "home",
        "event_ts": "1.3",
    }
    status, _ = await slack.post(event_body(event))
    assert status == 200
    for _ in range(100):
        if slack.api.calls_to("views.publish"):
            break
        await asyncio.sleep(0.02)
    [publish] = slack.api.calls_to("views.publish")
    assert publish.args["user_id"] == "UEMP0"
    view_text = publish.args["view"]["blocks"][0]["text"]["text"]
    assert t("nl", "slack.home_greeting", name="Emp0") in view_text
    assert t("nl", "home.open_now") not in view_text  # not linked yet: nothing to show
    assert await count(db, InboundEvent) == 0  # opening a tab is not a conversation


async def test_app_home_shows_what_is_open_for_you(
    slack: Slack, engine: Engine, db: Database, org: Org
) -> None:
    await greet(slack)
    poll_id, _opts = await create_poll(engine, ["Ja", "Nee"], question="Koffieautomaat?")
    other, other_opts = await create_poll(engine, ["A", "B"], question="Parkeren?")
    await slack.deliver()
    await engine.handle(org.incoming("emp0", choice=vote_payload(other, other_opts[0])))

    event = {"type": "app_home_opened", "user": "UEMP0", "tab": "home", "event_ts": "1.4"}
    assert (await slack.post(event_body(event)))[0] == 200
    for _attempt in range(100):
        if slack.api.calls_to("views.publish"):
            break
        await asyncio.sleep(0.02)
    [publish] = slack.api.calls_to("views.publish")
    blocks = publish.args["view"]["blocks"]
    text = blocks[0]["text"]["text"]
    assert t("nl", "home.poll_open", id=poll_id, question="Koffieautomaat?") in text
    assert t("nl", "home.poll_answered", id=other, question="Parkeren?") in text
    assert any(b.get("value") == "menu:polls" for b in block_elements({"blocks": blocks}))


async def test_url_verification_is_answered_with_the_challenge(slack: Slack) -> None:
    body = json.dumps({"token": "x", "challenge": "3eZbrw1aBm2rZ", "type": "url_verification"})
    status, text = await slack.post(body)
    assert status == 200 and json.loads(text) == {"challenge": "3eZbrw1aBm2rZ"}
    assert (await slack.post(body, secret="not-the-secret"))[0] == 401


# --- platform retries and outages ------------------------------------------------------------


async def test_retry_of_a_handled_event_is_acknowledged_and_counted_once(
    slack: Slack, engine: Engine, db: Database
) -> None:
    await greet(slack)
    await create_poll(engine, ["Ja", "Nee"])
    await slack.deliver()
    body = event_body(dm_event("UEMP0", "2"), event_id="Ev0RETRY01")  # types "2" = Nee
    assert (await slack.post(body))[0] == 200
    assert (await slack.post(body, retry_num=1))[0] == 200
    assert (await slack.post(body, retry_num=2))[0] == 200
    assert await count(db, Ballot) == 1
    assert (
        await count(
            db, InboundEvent, InboundEvent.event_key == event_key(engine.settings, "Ev0RETRY01")
        )
        == 1
    )
    assert await slack.deliver() == 1  # one confirmation, not three
    assert len(slack.api.calls_to("users.info")) == 1  # cached per user


async def test_database_outage_answers_503_and_the_retry_is_handled(
    slack: Slack, settings: Settings, db: Database
) -> None:
    broken_url = (
        "sqlite+aiosqlite:////nonexistent-dir/x.db"
        if settings.is_sqlite
        else "postgresql+asyncpg://postgres@127.0.0.1:1/none"
    )
    broken = build_runtime(slack_settings(settings, slack.api, database_url=broken_url))
    server = TestServer(create_web_app(broken, background=False), host="127.0.0.1")
    await server.start_server()
    body = event_body(dm_event("UEMP0", "hallo"), event_id="Ev0OUTAGE1")
    try:
        async with slack.http.post(
            server.make_url("/slack/events"), data=body, headers=signed_headers(body, JSON)
        ) as resp:
            assert resp.status == 503  # not 2xx: Slack retries
    finally:
        await server.close()
    assert await count(db, InboundEvent) == 0
    assert (await slack.post(body, retry_num=1))[0] == 200  # the retry is not a duplicate
    assert (
        await count(db, InboundEvent, InboundEvent.event_key == event_key(settings, "Ev0OUTAGE1"))
        == 1
    )


def event_key(settings: Settings, event_id: str) -> str:
    """The register's key for a Slack event id (the id itself is never stored)."""
    return dedupe_key(settings.secret, "slack", event_id)


# --- bad input -------------------------------------------------------------------------------


async def test_forged_and_replayed_requests_are_refused_and_nothing_is_stored(
    slack: Slack, db: Database
) -> None:
    body = event_body(dm_event("UEMP0", "hallo"))
    assert (await slack.post(body, secret="not-the-secret"))[0] == 401
    assert (await slack.post(body, timestamp=int(time.time()) - 301))[0] == 401
    async with slack.http.post(slack.url + "/slack/events", data=body) as resp:
        assert resp.status == 401  # no signature at all
    assert (await slack.post("{not json", secret="not-the-secret"))[0] == 401
    assert await count(db, InboundEvent) == 0
    assert slack.api.calls == []  # not even a users.info


async def test_malformed_unknown_and_oversized_requests(slack: Slack, db: Database) -> None:
    assert (await slack.post("{not json"))[0] == 400
    no_actions = "payload=" + json.dumps({"type": "block_actions", "user": {"id": "UEMP0"}})
    assert (await slack.post(no_actions, FORM))[0] == 400
    bad_text = event_body(dm_event("UEMP0", "x") | {"text": ["not", "text"]})
    assert (await slack.post(bad_text))[0] == 400
    reaction = {"type": "reaction_added", "user": "UEMP0", "reaction": "thumbsup", "event_ts": "1"}
    assert (await slack.post(event_body(reaction)))[0] == 200
    edited = dm_event("UEMP0", "x", subtype="message_changed")
    from_bot = dm_event("UEMP0", "x", bot_id="B0OTHER")
    for event in (edited, from_bot):
        assert (await slack.post(event_body(event)))[0] == 200
    huge = event_body(dm_event("UEMP0", "x" * (1024 * 1024)))
    assert (await slack.post(huge))[0] == 413
    assert await count(db, InboundEvent) == 0


async def test_unknown_sender_gets_one_polite_answer_and_is_not_stored(
    slack: Slack, db: Database
) -> None:
    slack.api.add_user("UNEW", "stranger@elsewhere.example", "Stranger", locale="en-GB")
    people_before = await count(db, Person)
    assert await slack.dm("UNEW", "hallo") == 200
    assert await count(db, Person) == people_before
    assert await count(db, ChannelAccount, ChannelAccount.platform_id == "UNEW") == 0
    [row] = await outbox_rows(db, OutboxMessage.account == "UNEW")
    assert row.channel == "slack" and row.person_id is None
    assert Outgoing.from_json(row.payload).text == t("en", "identity.not_on_roster")
    assert await slack.deliver() == 1
    assert slack.posted()[-1]["channel"] == "DNEW"
    assert slack.posted()[-1]["text"] == t("en", "identity.not_on_roster")


# --- delivery errors -------------------------------------------------------------------------


async def test_rate_limit_reschedules_with_retry_after(slack: Slack, db: Database) -> None:
    slack.api.fail("chat.postMessage", status=429, retry_after=30)
    assert await slack.dm("UEMP0", "hallo") == 200
    before = utcnow()
    assert await slack.deliver() == 1
    assert len(slack.api.calls_to("chat.postMessage")) == 1  # 30 s is too long to wait inline
    [row] = await outbox_rows(db)
    assert row.status == "pending" and row.attempts == 1
    assert "ratelimited" in (row.last_error or "")
    wait = row.next_attempt_at - before
    assert timedelta(seconds=28) <= wait <= timedelta(seconds=35)


async def test_short_rate_limit_is_waited_out_by_the_sdk_handler(
    slack: Slack, db: Database
) -> None:
    slack.api.fail("chat.postMessage", status=429, retry_after=0)
    assert await slack.dm("UEMP0", "hallo") == 200
    assert await slack.deliver() == 1
    assert len(slack.api.calls_to("chat.postMessage")) == 2
    [row] = await outbox_rows(db)
    assert row.status == "sent" and row.platform_message_id == slack.last_ref()


async def test_server_errors_retry_and_permanent_errors_fail(slack: Slack, db: Database) -> None:
    slack.api.fail("chat.postMessage", status=503)
    assert await slack.dm("UEMP0", "hallo") == 200
    patient = slack.runtime.settings.model_copy(update={"delivery_backoff_seconds": 60})
    await slack.deliver(patient)
    [row] = await outbox_rows(db)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error == "slack chat.postMessage: HTTP 503"
    await slack.deliver(clock=lambda: utcnow() + timedelta(minutes=5))
    [row] = await outbox_rows(db)
    assert (row.status, row.attempts) == ("sent", 2)

    slack.api.fail("chat.postMessage", error="account_inactive")
    assert await slack.dm("UEMP1", "hello") == 200
    await slack.deliver()
    [failed] = await outbox_rows(db, OutboxMessage.account == "UEMP1")
    assert failed.status == "failed"
    assert failed.last_error == "slack chat.postMessage: account_inactive"


# --- files -----------------------------------------------------------------------------------


async def test_shared_file_reaches_the_engine_and_downloads_only_from_slack(
    slack: Slack, settings: Settings, db: Database
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000
    url = slack.api.add_file("photo.png", png)
    files = [
        {
            "id": "F1",
            "name": "photo.png",
            "mimetype": "image/png",
            "size": len(png),
            "url_private": url,
            "url_private_download": url,
        }
    ]
    event = dm_event("UEMP0", "", subtype="file_share", files=files)
    body = event_body(event)
    incoming = incoming_from_message(json.loads(body), "UEMP0", mention=False)
    assert incoming.attachments == (MediaRef(url, "image/png", len(png)),)
    assert (await slack.post(body))[0] == 200
    assert await count(db, InboundEvent) == 1
    # A file with no dialog running starts a report; the engine fetched it through this
    # adapter (from the fake Slack file host) and found it is no readable photo.
    assert await slack.deliver() == 2
    texts = [m["text"] for m in slack.posted()[-2:]]
    assert t("nl", "photo.not_an_image") in texts[0]

    adapter = slack.runtime.adapters["slack"]
    assert await adapter.fetch_media(MediaRef(url, "image/png", len(png))) == png
    assert slack.api.calls_to("file")[-1].authorized

    with pytest.raises(MediaRefused, match="not allowed"):
        await adapter.fetch_media(MediaRef("https://evil.example.org/files-pri/photo.png"))
    # A redirect away from Slack's host is not followed (localhost is not 127.0.0.1's name
    # on the allow-list).
    downloads = len(slack.api.calls_to("file"))
    moved = slack.api.add_redirect("moved.png", url.replace("127.0.0.1", "localhost"))
    with pytest.raises(MediaRefused, match="not allowed"):
        await adapter.fetch_media(MediaRef(moved))
    assert len(slack.api.calls_to("file")) == downloads + 1  # the redirect only

    # Outgoing images are shown from our own media endpoint, which Slack fetches.
    media_id = "p-" + "b" * 64
    shown = adapter.render(Outgoing(text="Foto", images=(media_id,)))["blocks"][1]
    assert shown["type"] == "image"
    assert shown["image_url"].startswith(f"{settings.public_url.rstrip('/')}/media/{media_id}?")
    assert "sig=" in shown["image_url"]

    small = SlackAdapter(slack_settings(settings, slack.api, media_max_bytes=1000))
    wrong_token = SlackAdapter(
        slack_settings(settings, slack.api, slack_bot_token=SecretStr("xoxb-revoked"))
    )
    try:
        with pytest.raises(MediaRefused, match="larger"):
            await small.fetch_media(MediaRef(url))
        with pytest.raises(MediaRefused, match="web page"):  # Slack's login page
            await wrong_token.fetch_media(MediaRef(url))
    finally:
        await small.close()
        await wrong_token.close()


# --- achterban slack sync --------------------------------------------------------------------


async def slack_sync(settings: Settings, api: FakeSlackApi, *args: str, token: str = TOKEN) -> Any:
    """Run `slack sync` as the CLI does (its own event loop, in a thread), against the fake."""
    env = {
        "ACHTERBAN_DATABASE_URL": settings.db_url,
        "ACHTERBAN_DATA_DIR": str(settings.data_dir),
        "ACHTERBAN_SLACK_API_URL": api.api_url,
        "SLACK_BOT_TOKEN": token,
    }
    return await asyncio.to_thread(CliRunner().invoke, slack_app, ["sync", *args], env=env)


async def test_slack_sync_links_the_roster_by_email(
    org: Org, settings: Settings, slack_api: FakeSlackApi, db: Database
) -> None:
    slack_api.add_user("UMO", "MO@Example.org", "Mo")
    first = await slack_sync(settings, slack_api, "--format", "json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["linked"] == 4 and report["already_linked"] == 0
    assert sorted(report["not_found"]) == [f"emp{i}@example.org" for i in range(2, 8)]
    assert "not found in Slack: emp7@example.org" in first.stderr
    assert "4 linked" in first.stderr
    async with db.transaction(read_only=True) as session:
        rows = await session.execute(select(ChannelAccount.platform_id, ChannelAccount.person_id))
        linked = {platform_id: person_id for platform_id, person_id in rows}
    assert linked == {f"U{k.upper()}": org.people[k].id for k in ("olga", "mo", "emp0", "emp1")}

    again = await slack_sync(settings, slack_api, "--format", "json")
    assert json.loads(again.stdout)["already_linked"] == 4
    assert await count(db, ChannelAccount) == 4


async def test_slack_sync_stops_when_slack_refuses_the_token(
    settings: Settings, slack_api: FakeSlackApi, org: Org, db: Database
) -> None:
    result = await slack_sync(settings, slack_api, token="xoxb-revoked")
    assert result.exit_code == 1
    assert "invalid_auth" in result.stderr
    assert await count(db, ChannelAccount) == 0


async def test_reactions_on_a_broadcast_are_counted_once(
    slack: Slack, engine: Engine, org: Org
) -> None:
    from tests.support import broadcasts

    await greet(slack)
    broadcast_id = await broadcasts.create(engine, "Kantine dicht op vrijdag")
    await slack.deliver()
    channel, ts = slack.last_ref().split(":")
    event = {
        "type": "reaction_added",
        "user": "UEMP0",
        "reaction": "thumbsup",
        "item": {"type": "message", "channel": channel, "ts": ts},
        "event_ts": "9.1",
    }
    body = event_body(event)
    assert (await slack.post(body))[0] == 200
    assert (await slack.post(body, retry_num=1))[0] == 200
    assert (await broadcasts.status(engine, broadcast_id)).reactions == 1
    other = {**event, "item": {"type": "message", "channel": channel, "ts": "1.0"}}
    assert (await slack.post(event_body(other)))[0] == 200  # not our broadcast: ignored
    assert (await broadcasts.status(engine, broadcast_id)).reactions == 1
