"""Every recorded Twilio WhatsApp webhook (tests/adapters/payloads/whatsapp) through the real
adapter.

Each form is posted to the route Twilio calls (POST /twilio/whatsapp for messages,
/twilio/status for status callbacks) of Webhooks, form-encoded and signed with the signature
twilio's own RequestValidator computes for the public URL; the test states the whole Incoming
(or status) the engine receives. Where each shape was checked:
tests/adapters/payloads/README.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from adapters.whatsapp import EMPTY_TWIML, Webhooks
from bot.messages import Incoming, MediaRef, Profile
from tests.adapters.payload_rig import RecordingEngine, bare_settings
from tests.adapters.payloads import load
from tests.fakes.twilio_api import signature_headers

# Every recording and the test that reads it (test_payload_shapes checks the list is whole).
CHECKED = {
    "inbound_text",
    "inbound_media_caption",
    "inbound_button",
    "status_delivered",
    "status_failed",
}

PUBLIC_URL = "https://achterban.example.org"
AUTH_TOKEN = "twilio-auth-token-for-shapes"
PHONE = "+31600000001"
PROFILE = Profile(phone=PHONE, name="Emp Nul")  # From and ProfileName


def recorded(name: str) -> dict[str, Any]:
    assert name in CHECKED, f"whatsapp/{name} is read here but not listed"
    return load("whatsapp", name)


@dataclass
class Rig:
    client: TestClient
    engine: RecordingEngine

    async def post(self, path: str, name: str) -> int:
        """The recorded form as Twilio posts it, signed for the URL it was configured with."""
        form = recorded(name)
        assert all(isinstance(v, str) for v in form.values()), form  # a form: strings only
        headers = signature_headers(AUTH_TOKEN, PUBLIC_URL + path, form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        response = await self.client.post(path, data=urlencode(form), headers=headers)
        body = await response.text()
        if response.status == 200:
            assert body == EMPTY_TWIML  # replies go through the REST API
        return response.status


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    settings = bare_settings(
        tmp_path, twilio_auth_token=SecretStr(AUTH_TOKEN), public_url=PUBLIC_URL
    )
    engine = RecordingEngine()
    hooks = Webhooks(settings, engine)  # type: ignore[arg-type]
    app = web.Application()
    app.router.add_post("/twilio/whatsapp", hooks.inbound)
    app.router.add_post("/twilio/status", hooks.status)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield Rig(client, engine)


async def test_text_message(rig: Rig) -> None:
    assert await rig.post("/twilio/whatsapp", "inbound_text") == 200
    assert rig.engine.handled == [
        Incoming(
            channel="whatsapp",
            event_id="SM00000000000000000000000000000001",  # MessageSid: what a retry repeats
            account=PHONE,  # From without its whatsapp: prefix
            text="peilingen",
            profile=PROFILE,
        )
    ]


async def test_photo_with_a_caption(rig: Rig) -> None:
    assert await rig.post("/twilio/whatsapp", "inbound_media_caption") == 200
    form = recorded("inbound_media_caption")
    assert rig.engine.handled == [
        Incoming(
            channel="whatsapp",
            event_id="MM00000000000000000000000000000003",  # media messages are MM…
            account=PHONE,
            text="Zo ziet de kantine er na de verbouwing uit, de helft van de stoelen is weg",
            # MediaUrl0 on api.twilio.com (it redirects to the CDN), MediaContentType0.
            attachments=(MediaRef(form["MediaUrl0"], "image/jpeg"),),
            profile=PROFILE,
        )
    ]


async def test_quick_reply_button(rig: Rig) -> None:
    assert await rig.post("/twilio/whatsapp", "inbound_button") == 200
    assert rig.engine.handled == [
        Incoming(
            channel="whatsapp",
            event_id="SM00000000000000000000000000000002",
            account=PHONE,
            text="Eens",  # the button's label also arrives as Body (ButtonText)
            choice="poll:1:vote:1",  # ButtonPayload: the id we gave the button
            profile=PROFILE,
        )
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("status_delivered", ("whatsapp", "SM000000000000000000000000000000f1", "delivered", None)),
        (
            "status_failed",
            (
                "whatsapp",
                "SM000000000000000000000000000000f2",
                "failed",
                # Outside the 24-hour window without a template.
                "Twilio error 63016 (failed)",
            ),
        ),
    ],
)
async def test_status_callback(rig: Rig, name: str, expected: tuple[Any, ...]) -> None:
    assert await rig.post("/twilio/status", name) == 200
    assert rig.engine.statuses == [expected]
    assert rig.engine.handled == []
