"""Fixtures shared by the WhatsApp tests: the fake Twilio API and settings that point at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from bot.config import Settings
from tests.fakes.twilio_api import FakeTwilio

ACCOUNT_SID = "AC" + "1f" * 16
AUTH_TOKEN = "twilio-auth-token-for-tests"
PUBLIC_URL = "https://achterban.example.org"
SENDER = "whatsapp:+14155238886"


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    fake = await FakeTwilio(ACCOUNT_SID, AUTH_TOKEN).start()
    yield fake
    await fake.close()


@pytest.fixture
def wa_settings(settings: Settings, twilio: FakeTwilio) -> Settings:
    return settings.model_copy(
        update={
            "twilio_account_sid": ACCOUNT_SID,
            "twilio_auth_token": SecretStr(AUTH_TOKEN),
            "twilio_whatsapp_from": SENDER,
            "twilio_api_url": twilio.url,
            "public_url": PUBLIC_URL,
        }
    )
