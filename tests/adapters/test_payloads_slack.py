"""Every recorded Slack payload (tests/adapters/payloads/slack) through the real adapter.

Each one is posted to POST /slack/events of SlackEvents (slack-bolt behind our aiohttp
route), signed with slack_sdk's own SignatureVerifier, and users.info is answered by the fake
Web API; the test states the whole Incoming the engine receives. Where each shape was checked
against Slack's docs and slack-bolt's fixtures: tests/adapters/payloads/README.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from adapters.slack import SlackAdapter, SlackEvents
from bot.messages import PAYLOAD_JOIN, Incoming, MediaRef, Profile
from tests.adapters.payload_rig import RecordingEngine, bare_settings
from tests.adapters.payloads import load
from tests.fakes.slack_api import (
    FORM,
    JSON,
    SIGNING_SECRET,
    FakeSlackApi,
    signed_headers,
    slack_settings,
)

# Every recording and the test that reads it (test_payload_shapes checks the list is whole).
CHECKED = {
    "message_im",
    "message_file_share",
    "message_changed",
    "app_mention",
    "slash_command",
    "block_actions",
    "block_actions_submit",
    "block_actions_checkbox",
    "block_actions_select",
    "reaction_added",
    "reaction_removed",
    "app_home_opened",
    "headers_retry",
}

USER = "U0EMP0001"
DM = "D0EMP0001"
# What users.info says about USER: read for messages and commands, not for button presses.
PROFILE = Profile(email="emp.nul@example.org", name="Emp Nul")


def recorded(name: str) -> dict[str, Any]:
    assert name in CHECKED, f"slack/{name} is read here but not listed"
    return load("slack", name)


@dataclass
class Rig:
    client: TestClient
    engine: RecordingEngine
    api: FakeSlackApi

    async def post(
        self, body: str, content_type: str, headers: dict[str, str] | None = None
    ) -> tuple[int, str]:
        signed = signed_headers(body, content_type) | (headers or {})
        response = await self.client.post("/slack/events", data=body, headers=signed)
        return response.status, await response.text()

    async def event(self, name: str, headers: dict[str, str] | None = None) -> int:
        """An Events API envelope, as Slack posts it: the JSON body."""
        status, _ = await self.post(json.dumps(recorded(name)), JSON, headers)
        return status

    async def interaction(self, name: str) -> int:
        """Interactivity, as Slack posts it: the form field payload=JSON."""
        status, _ = await self.post("payload=" + quote(json.dumps(recorded(name))), FORM)
        return status


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    api = await FakeSlackApi().start()
    api.add_user(USER, "emp.nul@example.org", "Emp Nul", locale="nl-NL")
    engine = RecordingEngine()
    adapter = SlackAdapter(slack_settings(bare_settings(tmp_path), api))
    events = SlackEvents(adapter, engine, SIGNING_SECRET)  # type: ignore[arg-type]
    app = web.Application()
    app.router.add_post("/slack/events", events.handle_request)
    try:
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            yield Rig(client, engine, api)
    finally:
        await adapter.close()
        await api.stop()


async def test_direct_message(rig: Rig) -> None:
    assert await rig.event("message_im") == 200
    assert rig.engine.handled == [
        Incoming(
            channel="slack",
            event_id="Ev0RECORDED01",  # the envelope's event_id: what a retry repeats
            account=USER,
            text="peilingen & vragen",  # Slack's &amp; decoded
            locale="nl-NL",
            profile=PROFILE,
        )
    ]


async def test_direct_message_with_a_photo_and_a_caption(rig: Rig) -> None:
    assert await rig.event("message_file_share") == 200
    file = recorded("message_file_share")["event"]["files"][0]
    assert rig.engine.handled == [
        Incoming(
            channel="slack",
            event_id="Ev0RECORDED07",
            account=USER,
            text="Foto van de kapotte trap bij magazijn 2 & de nooduitgang",
            # The private download URL, fetched later with the bot token.
            attachments=(MediaRef(file["url_private_download"], "image/jpeg", 284113),),
            locale="nl-NL",
            profile=PROFILE,
        )
    ]


async def test_app_mention_drops_the_bots_own_mention(rig: Rig) -> None:
    assert await rig.event("app_mention") == 200
    assert rig.engine.handled == [
        Incoming(
            channel="slack",
            event_id="Ev0RECORDED02",
            account=USER,
            text="uitslag 12",
            locale="nl-NL",
            profile=PROFILE,
        )
    ]


async def test_slash_command(rig: Rig) -> None:
    form = recorded("slash_command")
    assert all(isinstance(v, str) for v in form.values()), form  # a form: strings only
    status, _ = await rig.post(urlencode(form), FORM)
    assert status == 200
    assert rig.engine.handled == [
        Incoming(
            channel="slack",
            event_id="command:1733300200.1.placeholdertrigger",  # trigger_id: one invocation
            account=USER,
            text="uitslag 12",
            locale="nl-NL",
            profile=PROFILE,
        )
    ]


async def test_button_press(rig: Rig) -> None:
    assert await rig.interaction("block_actions") == 200
    assert rig.engine.handled == [
        Incoming(
            channel="slack",
            event_id=f"action:{USER}:1733300110.000400",  # action_ts: one press
            account=USER,
            choice="poll:1:vote:1",
            message_ref=f"{DM}:1733300100.000300",  # the message to update
        )
    ]
    assert rig.api.calls_to("users.info") == []  # votes stay fast


async def test_ticking_a_checkbox_chooses_nothing_yet(rig: Rig) -> None:
    assert await rig.interaction("block_actions_checkbox") == 200
    assert rig.engine.handled == []


async def test_checkbox_submission(rig: Rig) -> None:
    assert await rig.interaction("block_actions_submit") == 200
    assert rig.engine.handled == [
        Incoming(
            channel="slack",
            event_id=f"action:{USER}:1733300310.000600",
            account=USER,
            choice=PAYLOAD_JOIN.join(["poll:2:vote:1", "poll:2:vote:3"]),  # from state.values
            message_ref=f"{DM}:1733300300.000500",
        )
    ]


async def test_static_select(rig: Rig) -> None:
    assert await rig.interaction("block_actions_select") == 200
    assert rig.engine.handled == [
        Incoming(
            channel="slack",
            event_id=f"action:{USER}:1733300710.001100",
            account=USER,
            choice="poll:3:vote:4",  # selected_option.value
            message_ref=f"{DM}:1733300700.001000",
        )
    ]


async def test_an_edited_message_is_not_a_new_one(rig: Rig) -> None:
    """message_changed: hidden, no top-level user, the new text under `message`. An edit is
    not read as a second message (the first was answered already)."""
    assert await rig.event("message_changed") == 200
    assert rig.engine.handled == []


@pytest.mark.parametrize(("name", "added"), [("reaction_added", True), ("reaction_removed", False)])
async def test_reaction_on_our_message(rig: Rig, name: str, added: bool) -> None:
    assert await rig.event(name) == 200
    assert rig.engine.handled == []
    assert rig.engine.reactions == [("slack", f"{DM}:1733300100.000300", "+1", USER, added)]


async def test_app_home_opened_publishes_the_home_tab(rig: Rig) -> None:
    assert await rig.event("app_home_opened") == 200
    for _ in range(100):  # published after the acknowledgement
        if rig.api.calls_to("views.publish"):
            break
        await asyncio.sleep(0.02)
    [publish] = rig.api.calls_to("views.publish")
    assert publish.args["user_id"] == USER
    assert rig.engine.homes == [("slack", USER)]
    assert rig.engine.handled == []


async def test_a_retry_repeats_the_event_id(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    """Slack retries with X-Slack-Retry-Num/-Reason and the same envelope: the same event id
    reaches the engine, which knows it (the adapter only logs the retry number)."""
    retry = recorded("headers_retry")
    assert retry == {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert await rig.event("message_im") == 200
    with caplog.at_level(logging.INFO, logger="adapters.slack_inbound"):
        assert await rig.event("message_im", headers=retry) == 200
    first, again = rig.engine.handled
    assert again == first
    [logged] = [r for r in caplog.records if r.getMessage() == "slack retry of a handled event"]
    assert logged.__dict__["retry"] == "1"
