"""Every recorded platform payload (tests/adapters/payloads) read by the adapter's own parser.

The end-to-end adapter tests post payloads built from these files; this module pins what
each recorded shape means to us: which channel, whose account, what text or choice, and
which event id a platform retry would repeat. A payload nobody reads here fails the last
test, so a new recording comes with its expectation.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from adapters.whatsapp import Webhooks, parse_incoming
from bot.config import Settings
from bot.messages import Incoming, Outgoing
from tests.adapters import test_payloads_slack, test_payloads_teams
from tests.adapters.payloads import load, names
from tests.fakes.twilio_api import signature_headers

# Every recording and the test below that reads it; the last test checks the list is whole.
CHECKED = {
    "slack": test_payloads_slack.CHECKED,
    "teams": test_payloads_teams.CHECKED,
    "whatsapp": {"inbound_text", "inbound_button", "status_delivered", "status_failed"},
}


def recorded(platform: str, name: str) -> dict[str, Any]:
    assert name in CHECKED[platform], f"{platform}/{name} is read here but not listed"
    return load(platform, name)


@dataclass
class Handled:
    duplicate: bool = False


@dataclass
class RecordingEngine:
    """The EngineApi an adapter talks to, keeping what it was given."""

    handled: list[Incoming] = field(default_factory=list)
    statuses: list[tuple[str, str, str, str | None]] = field(default_factory=list)

    async def handle(self, incoming: Incoming) -> Handled:
        self.handled.append(incoming)
        return Handled()

    async def home(self, channel: str, account: str) -> Outgoing | None:
        return None

    async def record_reaction(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("no reactions are recorded yet")

    async def record_status(
        self, channel: str, platform_message_id: str, status: str, *, error: str | None
    ) -> None:
        self.statuses.append((channel, platform_message_id, status, error))

    async def store_reference(self, channel: str, account: str, reference: dict[str, Any]) -> None:
        raise AssertionError("not called for inbound activities")


def bare_settings(tmp_path: Path, **update: Any) -> Settings:
    """Settings without a database: these tests never open one."""
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/unused.db",
        data_dir=tmp_path,
        secret_key="test-secret-key-that-is-long-enough-for-production",
        _env_file=None,  # type: ignore[call-arg]
    ).model_copy(update=update)


# -- WhatsApp (Twilio) -------------------------------------------------------------------------


def test_whatsapp_text_message() -> None:
    incoming = parse_incoming(recorded("whatsapp", "inbound_text"))
    assert incoming is not None
    assert (incoming.channel, incoming.account) == ("whatsapp", "+31600000001")
    assert incoming.event_id == "SM00000000000000000000000000000001"
    assert (incoming.text, incoming.choice) == ("peilingen", None)
    assert incoming.profile is not None and incoming.profile.name == "Emp Nul"


def test_whatsapp_quick_reply_button() -> None:
    incoming = parse_incoming(recorded("whatsapp", "inbound_button"))
    assert incoming is not None
    assert (incoming.channel, incoming.account) == ("whatsapp", "+31600000001")
    assert incoming.event_id == "SM00000000000000000000000000000002"
    # The button's payload is the choice; its label also arrives as Body.
    assert (incoming.choice, incoming.text) == ("poll:1:vote:1", "Eens")


PUBLIC_URL = "https://achterban.example.org"
AUTH_TOKEN = "twilio-auth-token-for-shapes"


@pytest.fixture
async def status_client(tmp_path: Path) -> AsyncIterator[tuple[TestClient, RecordingEngine]]:
    """Webhooks.status behind a real aiohttp server: it has no parser apart from the route."""
    settings = bare_settings(
        tmp_path, twilio_auth_token=SecretStr(AUTH_TOKEN), public_url=PUBLIC_URL
    )
    engine = RecordingEngine()
    hooks = Webhooks(settings, engine)  # type: ignore[arg-type]
    app = web.Application()
    app.router.add_post("/twilio/status", hooks.status)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client, engine


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("status_delivered", ("whatsapp", "SM000000000000000000000000000000f1", "delivered", None)),
        (
            "status_failed",
            (
                "whatsapp",
                "SM000000000000000000000000000000f2",
                "undelivered",
                "Twilio error 63016 (undelivered)",
            ),
        ),
    ],
)
async def test_whatsapp_status_callback(
    status_client: tuple[TestClient, RecordingEngine], name: str, expected: tuple[Any, ...]
) -> None:
    client, engine = status_client
    form = recorded("whatsapp", name)
    headers = signature_headers(AUTH_TOKEN, PUBLIC_URL + "/twilio/status", form)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    response = await client.post("/twilio/status", data=urlencode(form), headers=headers)
    assert response.status == 200, await response.text()
    assert engine.statuses == [expected]


# -- all of them -------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["slack", "teams", "whatsapp"])
def test_recorded_payloads_are_objects_with_placeholder_ids(platform: str) -> None:
    """Recordings hold no real workspace, tenant or phone: ids are the placeholders used
    above (Slack T0ACHTER, the zero GUIDs, +316000000xx and AC000…)."""
    for name in names(platform):
        if name.startswith("headers_"):
            continue  # HTTP headers the platform adds, not a payload
        text = json.dumps(load(platform, name))
        assert "T0ACHTER" in text or platform != "slack", name
        if platform == "whatsapp":
            assert "AC00000000000000000000000000000000" in text, name
            assert "+316000000" in text, name
        if platform == "teams":
            assert test_payloads_teams.TENANT in text, name


@pytest.mark.parametrize("platform", sorted(CHECKED))
def test_every_recorded_payload_is_read_by_a_test_above(platform: str) -> None:
    """A recording without an expectation here is a shape nobody checked."""
    assert set(names(platform)) == CHECKED[platform]
