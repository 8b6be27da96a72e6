"""WhatsApp quick replies: choices as buttons from Content API templates, end to end against the
fake Twilio API, and `achterban whatsapp quick-replies` creating those templates."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from typer.testing import CliRunner

from adapters.whatsapp import WhatsAppAdapter
from bot.cli.whatsapp import whatsapp_app
from bot.config import Settings
from bot.engine import Engine
from bot.messages import Choice, Outgoing, Recipient
from storage.models import Ballot, utcnow
from tests.adapters.conftest import ACCOUNT_SID, AUTH_TOKEN, SENDER
from tests.adapters.test_whatsapp import PHONE, Bot, give_phone, serving
from tests.fakes.twilio_api import FakeTwilio
from tests.support.databases import count
from tests.support.org import Org
from tests.support.polls import create_poll

SIDS = {1: "HX" + "1" * 32, 2: "HX" + "2" * 32, 3: "HX" + "3" * 32}


@pytest.fixture
def quick_settings(wa_settings: Settings) -> Settings:
    return wa_settings.model_copy(
        update={"whatsapp_quick_replies": True, "whatsapp_quick_reply_sids": dict(SIDS)}
    )


@pytest.fixture
async def quick_bot(quick_settings: Settings) -> AsyncIterator[Bot]:
    async with serving(quick_settings) as running:
        yield running


def choices(*labels: str) -> tuple[Choice, ...]:
    return tuple(Choice(label, f"poll:7:vote:{i}") for i, label in enumerate(labels, start=1))


def variables(rendered: dict[str, Any]) -> dict[str, str]:
    return dict(json.loads(rendered["quick_reply"]["content_variables"]))


def test_choices_that_fit_become_buttons(quick_settings: Settings) -> None:
    adapter = WhatsAppAdapter(quick_settings)
    rendered = adapter.render(Outgoing("Peiling 7\nWat vind je?", choices=choices("Ja", "Nee")))
    assert rendered["parts"] == ["Peiling 7", "Wat vind je?"]
    assert rendered["quick_reply"]["content_sid"] == SIDS[2]
    assert variables(rendered) == {
        "1": "Wat vind je?",
        "2": "Ja",
        "3": "poll:7:vote:1",
        "4": "Nee",
        "5": "poll:7:vote:2",
    }
    # One line: the buttons' body is the whole text, no lead message.
    single = adapter.render(Outgoing("Wat vind je?", choices=choices("Ja", "Nee", "Weet niet")))
    assert single["parts"] == ["Wat vind je?"]
    assert single["quick_reply"]["content_sid"] == SIDS[3]


@pytest.mark.parametrize(
    "outgoing",
    [
        Outgoing("Vier?", choices=choices("A", "B", "C", "D")),  # WhatsApp allows 3 in session
        Outgoing("Lang?", choices=choices("Ja", "Een antwoord van meer dan twintig tekens")),
        Outgoing("Meer?", choices=choices("A", "B"), multiple=True),
        Outgoing("x" * 300, choices=choices("Ja", "Nee")),  # over a content variable's 256
    ],
    ids=["four-choices", "long-label", "multiple-choice", "long-question"],
)
def test_choices_that_do_not_fit_stay_a_numbered_list(
    quick_settings: Settings, outgoing: Outgoing
) -> None:
    rendered = WhatsAppAdapter(quick_settings).render(outgoing)
    assert "quick_reply" not in rendered
    assert "\n1. " in rendered["parts"][-1]


def test_without_the_setting_or_a_template_choices_are_numbered(quick_settings: Settings) -> None:
    outgoing = Outgoing("Wat vind je?", choices=choices("Ja", "Nee"))
    off = quick_settings.model_copy(update={"whatsapp_quick_replies": False})
    missing = quick_settings.model_copy(update={"whatsapp_quick_reply_sids": {3: SIDS[3]}})
    for settings in (off, missing):
        rendered = WhatsAppAdapter(settings).render(outgoing)
        assert "quick_reply" not in rendered
        assert rendered["parts"] == ["Wat vind je?\n\n1. Ja\n2. Nee"]


async def test_images_travel_ahead_of_the_buttons(
    quick_settings: Settings, twilio: FakeTwilio
) -> None:
    adapter = WhatsAppAdapter(quick_settings)
    try:
        outgoing = Outgoing("Nuttig?", choices=choices("Ja", "Nee"), images=("p-" + "a" * 64,))
        rendered = adapter.render(outgoing)
        result = await adapter.send(Recipient(PHONE, last_inbound_at=utcnow()), rendered)
    finally:
        await adapter.close()
    media, buttons = twilio.sent[-2:]
    assert media["MediaUrl"] == rendered["media"][0] and "Body" not in media
    assert buttons["ContentSid"] == SIDS[2] and "Body" not in buttons
    assert json.loads(buttons["ContentVariables"])["1"] == "Nuttig?"
    assert result.platform_message_id == twilio.sent_sids[-1]


async def test_poll_as_buttons_and_a_tapped_button_counts(
    quick_bot: Bot, twilio: FakeTwilio, engine: Engine, org: Org
) -> None:
    await give_phone(engine, org.people["emp0"])
    await quick_bot.message("hallo")
    await quick_bot.deliver()
    poll_id, option_ids = await create_poll(engine, ["Ja", "Nee", "Weet niet"])
    assert await quick_bot.deliver() == 1
    message = twilio.sent[-1]
    assert message["ContentSid"] == SIDS[3]
    sent = json.loads(message["ContentVariables"])
    assert [sent["2"], sent["4"], sent["6"]] == ["Ja", "Nee", "Weet niet"]

    # Twilio posts the tapped button's id as ButtonPayload, its title as Body.
    resp = await quick_bot.message(
        "Nee", ButtonPayload=sent["5"], ButtonText="Nee", MessageType="button"
    )
    assert resp.status == 200
    assert await count(engine.db, Ballot, Ballot.option_id == option_ids[1]) == 1
    assert await count(engine.db, Ballot, Ballot.poll_id == poll_id) == 1


def quick_replies_cli(twilio: FakeTwilio, *args: str) -> Any:
    env = {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_WHATSAPP_FROM": SENDER,
        "ACHTERBAN_TWILIO_API_URL": twilio.url,
    }
    return CliRunner().invoke(whatsapp_app, ["quick-replies", *args], env=env)


async def test_cli_creates_the_templates_the_adapter_fills_in(
    twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = await asyncio.to_thread(quick_replies_cli, twilio, "--format", "json")
    assert result.exit_code == 0, result.output
    sids = json.loads(result.stdout)
    assert sorted(sids) == ["1", "2", "3"] and set(sids.values()) == set(twilio.contents)
    three = twilio.contents[sids["3"]]
    quick = three["types"]["twilio/quick-reply"]
    assert quick["body"] == "{{1}}"
    assert [(a["title"], a["id"]) for a in quick["actions"]] == [
        ("{{2}}", "{{3}}"),
        ("{{4}}", "{{5}}"),
        ("{{6}}", "{{7}}"),
    ]
    assert set(three["variables"]) == {str(n) for n in range(1, 8)}  # samples for every variable
    assert three["language"] == "nl"

    plain = await asyncio.to_thread(quick_replies_cli, twilio)
    assert plain.exit_code == 0
    assert "ACHTERBAN_WHATSAPP_QUICK_REPLIES=1" in plain.stdout
    line = next(x for x in plain.stdout.splitlines() if "QUICK_REPLY_SIDS" in x)
    # The printed line, as the environment gives it to the settings.
    monkeypatch.setenv("ACHTERBAN_WHATSAPP_QUICK_REPLY_SIDS", line.split("=", 1)[1].strip("'"))
    configured = Settings()
    assert sorted(configured.whatsapp_quick_reply_sids) == [1, 2, 3]


async def test_cli_refuses_without_credentials_and_reports_twilio_errors(
    twilio: FakeTwilio,
) -> None:
    missing = await asyncio.to_thread(
        CliRunner().invoke, whatsapp_app, ["quick-replies"], env={"TWILIO_ACCOUNT_SID": ""}
    )
    assert missing.exit_code == 2
    assert "TWILIO_ACCOUNT_SID" in missing.output
    wrong = twilio.auth_token
    twilio.auth_token = "another-token"
    try:
        refused = await asyncio.to_thread(quick_replies_cli, twilio)
    finally:
        twilio.auth_token = wrong
    assert refused.exit_code == 1
    assert "20003" in refused.output
    assert twilio.contents == {}
