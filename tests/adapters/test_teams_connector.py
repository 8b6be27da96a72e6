"""The Teams adapter's connector plumbing (adapters/teams_connector.py): one connector client
per service URL, and the bot's token reused for a while but renewed by MSAL before it expires —
against the fake Bot Connector and its token endpoint (tests/fakes/bot_connector.py)."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ConversationReference
from botframework.connector import models as connector_models
from msrest.serialization import Serializer
from pydantic import SecretStr

from adapters import teams_cards
from adapters.teams import TeamsAdapter
from adapters.teams_graph import GraphConfig, TeamsInstaller
from adapters.teams_wire import WireActivity, WireSerializer, addressed
from bot.config import Settings
from bot.engine import Engine
from bot.messages import Choice, DeliveryError, Outgoing, Purpose, Recipient
from tests.fakes.bot_connector import FakeBotConnector

APP_ID = "a1b2c3d4-0000-4000-8000-0000000000dd"
APP_PASSWORD = "connector-password"
TENANT = "72f988bf-0000-4000-8000-0000000000dd"


def teams_settings(settings: Settings, connector: FakeBotConnector) -> Settings:
    return settings.model_copy(
        update={
            "microsoft_app_id": APP_ID,
            "microsoft_app_password": SecretStr(APP_PASSWORD),
            "teams_login_url": connector.login_url,
        }
    )


def reference(connector: FakeBotConnector, key: str) -> dict[str, object]:
    return {
        "bot": {"id": f"28:{APP_ID}"},
        "user": {"id": f"29:{key}", "aadObjectId": f"aad-{key}"},
        "conversation": {"id": f"a:personal-{key}", "conversationType": "personal",
                         "tenantID": TENANT},
        "channelId": "msteams",
        "serviceUrl": connector.url,
    }  # fmt: skip


async def send_three(teams: TeamsAdapter, connector: FakeBotConnector) -> None:
    rendered = teams.render(Outgoing("Nieuws"))
    for key in ("emp0", "emp1", "emp2"):
        result = await teams.send(Recipient(f"aad-{key}", reference(connector, key)), rendered)
        (activity,) = connector.sent(f"a:personal-{key}")
        assert result.platform_message_id == activity["_id"] and activity["_op"] == "send"


async def test_one_connector_client_per_service_url_without_hidden_retries(
    settings: Settings, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeBotConnector(APP_ID, APP_PASSWORD).serve(tmp_path) as connector:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", connector.ca_file)
        teams = TeamsAdapter(teams_settings(settings, connector), engine)
        identity = teams.cloud.create_claims_identity(APP_ID)
        first = await teams.auth.create_connector_factory(identity).create(connector.url, None)
        again = await teams.auth.create_connector_factory(identity).create(connector.url, None)
        other = await teams.auth.create_connector_factory(identity).create(
            "https://smba.trafficmanager.net/emea/", None
        )
        assert first is again and other is not first
        assert first.config.retry_policy.policy.total == 0  # the outbox retries
        assert first.config.connection.timeout == 30
        connector.fail_next(503)
        with pytest.raises(DeliveryError) as failed:
            await teams.send(
                Recipient("aad-x", reference(connector, "x")), teams.render(Outgoing("x"))
            )
        assert not failed.value.permanent and connector.sent() == []  # not retried here
        await send_three(teams, connector)
        await teams.close()
    assert connector.refused == [503]
    assert len(connector.token_requests) == 1


async def test_a_token_is_reused_only_while_msal_would_hand_it_out(
    settings: Settings, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tokens that live under MSAL's five-minute margin are renewed at every MSAL lookup.
    fake = FakeBotConnector(APP_ID, APP_PASSWORD, token_lifetime=299)
    with fake.serve(tmp_path) as connector:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", connector.ca_file)
        cfg = teams_settings(settings, connector)
        reused = TeamsAdapter(cfg, engine)  # reused for two minutes: one token
        await send_three(reused, connector)
        assert len(connector.token_requests) == 1
        connector.activities.clear()
        renewed = TeamsAdapter(cfg, engine, token_reuse=0.0)  # MSAL asked at every send
        await send_three(renewed, connector)
        assert len(connector.token_requests) == 1 + 3  # … and it renews every time
        connector.activities.clear()
        connector.token_lifetime = 3600
        cached = TeamsAdapter(cfg, engine, token_reuse=0.0)
        await send_three(cached, connector)
        assert len(connector.token_requests) == 4 + 1  # a long-lived one comes from its cache
        assert connector.refused == []
        for teams in (reused, renewed, cached):
            await teams.close()


class CountingExecutor(ThreadPoolExecutor):
    """The loop's default executor, counting what is run in its threads."""

    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.submitted = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


async def test_connector_requests_go_out_on_the_event_loop_signed_and_intact(
    settings: Settings, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No executor thread per send (msrest's default transport runs `requests` in one), the
    token on every request, and a Dutch text with accents arriving whole."""
    loop, counting = asyncio.get_running_loop(), CountingExecutor()
    loop.set_default_executor(counting)
    try:
        with FakeBotConnector(APP_ID, APP_PASSWORD).serve(tmp_path) as connector:
            await _send_on_the_loop(settings, engine, connector, monkeypatch, counting)
    finally:
        loop.set_default_executor(ThreadPoolExecutor())  # the loop outlives this test
        counting.shutdown(wait=False)
    assert connector.refused == [] and len(connector.token_requests) == 1


async def _send_on_the_loop(
    settings: Settings,
    engine: Engine,
    connector: FakeBotConnector,
    monkeypatch: pytest.MonkeyPatch,
    counting: CountingExecutor,
) -> None:
    """A first send (MSAL's token fetch runs in a thread), then three that use none."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", connector.ca_file)
    teams = TeamsAdapter(teams_settings(settings, connector), engine)
    text = "Één vraag over de kantine: café of thee? ☕"
    rendered = teams.render(Outgoing(text))
    await teams.send(Recipient("aad-first", reference(connector, "first")), rendered)
    threads_before = counting.submitted  # the first token comes from MSAL, in one
    await send_three(teams, connector)
    assert counting.submitted == threads_before
    (first,) = connector.sent("a:personal-first")
    body = first["attachments"][0]["content"]["body"]
    assert text in json.dumps(body, ensure_ascii=False)
    await teams.close()


# What the outbox sends (texts, buttons, more buttons than a card's actions, a multi-select,
# images, an update of a card) to the references it stores (from a Teams message, with and
# without the activity it answers, and from a Graph installation).
CHOICES = tuple(Choice(f"Optie {n}", f"vote:7:{n}") for n in range(1, 8))
SENT = [
    Outgoing("Nieuws van de OR: **maandag** weer open.\nLees meer.", purpose=Purpose.BROADCAST),
    Outgoing("Kantine of thuis?", choices=CHOICES[:2]),
    Outgoing("Kies er één", choices=CHOICES),
    Outgoing("Wat vind je belangrijk?", choices=CHOICES[:4], multiple=True, submit_label="Klaar"),
    Outgoing("Onveilig: ladder", images=("m1", "m2"), replaces="1:card"),
]
INCOMING = {
    "type": "message", "id": "1:incoming", "channelId": "msteams", "locale": "nl-NL",
    "serviceUrl": "https://smba.trafficmanager.net/emea/",
    "from": {"id": "29:emp", "name": "Emp", "aadObjectId": "aad-emp"},
    "recipient": {"id": f"28:{APP_ID}", "name": "achterban"},
    "conversation": {"conversationType": "personal", "tenantId": TENANT, "id": "a:personal-emp"},
}  # fmt: skip


def stored_references() -> list[dict[str, Any]]:
    answered = TurnContext.get_conversation_reference(Activity().deserialize(INCOMING))
    first = TurnContext.get_conversation_reference(Activity().deserialize(INCOMING))
    first.activity_id = None
    graph = TeamsInstaller(GraphConfig(TENANT, APP_ID, "secret")).reference("aad-emp", "19:chat")
    return [answered.serialize(), first.serialize(), graph]


@pytest.mark.parametrize("outgoing", SENT, ids=lambda o: o.text.split()[0])
def test_a_sent_activity_is_what_the_sdk_would_make_of_it(outgoing: Outgoing) -> None:
    """`addressed` against the SDK's own path: the rendered activity and the stored reference
    as models, TurnContext.apply_conversation_reference, msrest's serialization."""
    models = {k: v for k, v in connector_models.__dict__.items() if isinstance(v, type)}
    sdk, ours = Serializer(models), WireSerializer(models)
    rendered = teams_cards.render(outgoing, lambda media_id: f"https://or.example/m/{media_id}")
    for stored in stored_references():
        activity = TurnContext.apply_conversation_reference(
            Activity().deserialize(rendered["activity"]),
            ConversationReference().deserialize(stored),
        )
        expected = sdk.body(activity, "Activity")
        wire = addressed(rendered["activity"], stored)
        assert isinstance(wire, WireActivity) and wire == expected
        assert ours.body(wire, "Activity") == expected
        assert ours.body(activity, "Activity") == expected  # models still go through msrest
    assert "replyToId" in addressed(rendered["activity"], stored_references()[0])
