"""Every recorded Teams activity (tests/adapters/payloads/teams) through the real adapter.

Each one is posted to POST /api/messages of TeamsAdapter with a Bot Connector JWT that
botframework-connector validates against the fake OpenID keys (tests/fakes/openid_keys.py);
the member lookup (TeamsInfo.get_member) is answered by the fake Bot Connector, whose address
replaces the recorded serviceUrl (the token names it). The test states the whole Incoming the
engine receives. Where each shape was checked: tests/adapters/payloads/README.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from adapters.teams import TeamsAdapter
from bot.messages import PAYLOAD_JOIN, Incoming, MediaRef, Profile
from tests.adapters.payload_rig import RecordingEngine, bare_settings
from tests.adapters.payloads import load
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.openid_keys import OpenIdKeys

# Every recording and the test that reads it (test_payload_shapes checks the list is whole).
CHECKED = {
    "message",
    "message_file",
    "message_inline_image",
    "message_channel_mention",
    "card_submit",
    "card_submit_multiple",
    "message_reaction",
    "conversation_update_install",
    "conversation_update_team",
    "installation_update_add",
    "installation_update_remove",
}

# The recordings' bot is 28:<this app id>; the JWT's audience must be it.
APP_ID = "00000000-0000-4000-8000-0000000000b1"
APP_PASSWORD = "app-password-for-shapes"
AAD_USER = "00000000-0000-4000-8000-00000000e001"
USER_ID = "29:1placeholder-user-id"
PERSONAL = "a:1placeholder-personal-conversation"
TENANT = "00000000-0000-4000-8000-0000000000a1"
# What GET …/members/{id} answers for the sender.
PROFILE = Profile(email="emp.nul@achterban.nl", name="Emp Nul")


def recorded(name: str) -> dict[str, Any]:
    assert name in CHECKED, f"teams/{name} is read here but not listed"
    return load("teams", name)


@pytest.fixture(scope="module")
def openid() -> Iterator[OpenIdKeys]:
    with OpenIdKeys().serve() as keys:
        yield keys


@pytest.fixture
def connector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBotConnector]:
    with FakeBotConnector(APP_ID, APP_PASSWORD).serve(tmp_path) as fake:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", fake.ca_file)  # MSAL trusts the fake login
        fake.members[USER_ID] = {
            "id": USER_ID,
            "name": "Emp Nul",
            "aadObjectId": AAD_USER,
            "email": "emp.nul@achterban.nl",
            "userPrincipalName": "emp.nul@achterban.nl",
            "tenantId": TENANT,
            "userRole": "user",
        }
        yield fake


@dataclass
class Rig:
    url: str
    http: aiohttp.ClientSession
    engine: RecordingEngine
    keys: OpenIdKeys
    connector: FakeBotConnector

    async def post(self, name: str) -> int:
        """The recording as the Bot Connector posts it, from this test's connector."""
        activity = recorded(name)
        activity["serviceUrl"] = self.connector.url
        token = self.keys.token(audience=APP_ID, service_url=self.connector.url)
        headers = {"Authorization": f"Bearer {token}"}
        async with self.http.post(self.url, json=activity, headers=headers) as response:
            await response.read()
            return response.status

    def reference(self, *, locale: str | None = "nl-NL", **user: str) -> dict[str, Any]:
        """The conversation reference stored for the 1:1 chat: the SDK's, without the
        activity id. botbuilder-schema reads a conversation's tenant from `tenantID`, so the
        `tenantId` Teams sends is not in it (the connector does not need it to send)."""
        reference: dict[str, Any] = {
            "user": {"id": USER_ID, **user, "aadObjectId": AAD_USER},
            "bot": {"id": f"28:{APP_ID}", "name": "achterban"},
            "conversation": {"conversationType": "personal", "id": PERSONAL},
            "channelId": "msteams",
            "serviceUrl": self.connector.url,
        }
        if locale is not None:
            reference["locale"] = locale
        return reference


@pytest.fixture
async def rig(
    tmp_path: Path, openid: OpenIdKeys, connector: FakeBotConnector
) -> AsyncIterator[Rig]:
    settings = bare_settings(
        tmp_path,
        microsoft_app_id=APP_ID,
        microsoft_app_password=SecretStr(APP_PASSWORD),
        teams_openid_metadata_url=openid.metadata_url,
        teams_login_url=connector.login_url,
    )
    engine = RecordingEngine()
    adapter = TeamsAdapter(settings, engine)  # type: ignore[arg-type]
    app = web.Application()
    app.add_routes(adapter.routes())
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            url = str(server.make_url("/api/messages"))
            yield Rig(url, http, engine, openid, connector)
    finally:
        await server.close()
        await adapter.close()


async def test_message_in_the_personal_chat(rig: Rig) -> None:
    assert await rig.post("message") == 200
    assert rig.engine.handled == [
        Incoming(
            channel="teams",
            event_id=f"{PERSONAL}:1741082400123",  # conversation + activity id
            account=AAD_USER,  # from.aadObjectId: the same person in every chat
            text="peilingen",
            locale="nl-NL",
            profile=PROFILE,
            conversation_ref=rig.reference(name="Emp Nul"),  # a 1:1 chat: we may write first
        )
    ]


async def test_photo_sent_as_a_file_with_a_caption(rig: Rig) -> None:
    assert await rig.post("message_file") == 200
    info = recorded("message_file")["attachments"][0]["content"]
    [incoming] = rig.engine.handled
    assert incoming == Incoming(
        channel="teams",
        event_id=f"{PERSONAL}:1741083000456",
        account=AAD_USER,
        text="Zie foto: het rooster voor week 50 klopt niet",
        # The pre-authorised downloadUrl (not contentUrl); the text/html copy is skipped.
        attachments=(MediaRef(info["downloadUrl"], "image/jpeg"),),
        locale="nl-NL",
        profile=PROFILE,
        conversation_ref=rig.reference(name="Emp Nul"),
    )


async def test_inline_image_with_a_caption(rig: Rig) -> None:
    assert await rig.post("message_inline_image") == 200
    image = recorded("message_inline_image")["attachments"][0]
    [incoming] = rig.engine.handled
    assert incoming == Incoming(
        channel="teams",
        event_id=f"{PERSONAL}:1741083300789",
        account=AAD_USER,
        text="Lekkage bij de koffieautomaat op de tweede verdieping",
        # Teams says only "image/*"; the bytes tell the type when they are fetched.
        attachments=(MediaRef(image["contentUrl"], "image/*"),),
        locale="nl-NL",
        profile=PROFILE,
        conversation_ref=rig.reference(name="Emp Nul"),
    )


async def test_mention_in_a_team_channel(rig: Rig) -> None:
    assert await rig.post("message_channel_mention") == 200
    assert rig.engine.handled == [
        Incoming(
            channel="teams",
            event_id="19:placeholder-or-kanaal@thread.tacv2;messageid=1741084200321:1741084200321",
            account=AAD_USER,
            text="uitslag 12",  # <at>achterban</at> and the trailing newline gone
            locale="nl-NL",
            profile=PROFILE,
            conversation_ref=None,  # a channel is not the person's own: no reference
        )
    ]


async def test_adaptive_card_submit(rig: Rig) -> None:
    assert await rig.post("card_submit") == 200
    assert rig.engine.handled == [
        Incoming(
            channel="teams",
            event_id=f"{PERSONAL}:f:placeholder-submit-activity",
            account=AAD_USER,
            choice="poll:1:vote:2",  # value = the button's data
            message_ref="1741082400999",  # replyToId: the card to update
            locale="nl-NL",
            profile=PROFILE,
            conversation_ref=rig.reference(name="Emp Nul"),
        )
    ]


async def test_adaptive_card_multi_select_submit(rig: Rig) -> None:
    assert await rig.post("card_submit_multiple") == 200
    assert rig.engine.handled == [
        Incoming(
            channel="teams",
            event_id=f"{PERSONAL}:f:placeholder-submit-multiple",
            account=AAD_USER,
            # Input.ChoiceSet's comma-joined values, as every channel joins them.
            choice=PAYLOAD_JOIN.join(["poll:2:vote:1", "poll:2:vote:3"]),
            message_ref="1741082500111",
            locale="nl-NL",
            profile=PROFILE,
            conversation_ref=rig.reference(name="Emp Nul"),
        )
    ]


async def test_reaction_on_our_card(rig: Rig) -> None:
    assert await rig.post("message_reaction") == 200
    assert rig.engine.handled == []
    assert rig.engine.reactions == [("teams", "1741082400999", "like", AAD_USER, True)]


@pytest.mark.parametrize("name", ["conversation_update_install", "installation_update_add"])
async def test_installation_greets_once(rig: Rig, name: str) -> None:
    assert await rig.post(name) == 200
    # Both announce one installation: the same event id, so the greeting is sent once.
    locale = "nl-NL" if name == "installation_update_add" else None
    assert rig.engine.handled == [
        Incoming(
            channel="teams",
            event_id=f"{PERSONAL}:installed",
            account=AAD_USER,
            locale=locale,
            profile=PROFILE,
            conversation_ref=rig.reference(locale=locale),
        )
    ]


@pytest.mark.parametrize("name", ["conversation_update_team", "installation_update_remove"])
async def test_nothing_to_say(rig: Rig, name: str) -> None:
    """Added to a team (nobody to greet in private), or uninstalled: acknowledged, and
    nothing reaches the engine."""
    assert await rig.post(name) == 200
    assert rig.engine.handled == []
    assert rig.connector.member_lookups == []


@pytest.mark.parametrize(("tenant", "status"), [(TENANT, 200), (APP_ID, 403)])
async def test_single_tenant_reads_the_conversations_tenant_id(
    tmp_path: Path, openid: OpenIdKeys, connector: FakeBotConnector, tenant: str, status: int
) -> None:
    """Teams names the tenant twice: channelData.tenant.id and conversation.tenantId. Without
    the first, the second decides; botbuilder-schema maps ConversationAccount.tenant_id to
    `tenantID`, so it is read from the key Teams sends."""
    settings = bare_settings(
        tmp_path,
        microsoft_app_id=APP_ID,
        microsoft_app_password=SecretStr(APP_PASSWORD),
        microsoft_app_type="SingleTenant",
        microsoft_app_tenant_id=tenant,
        teams_openid_metadata_url=openid.metadata_url,
        teams_login_url=connector.login_url,
    )
    engine = RecordingEngine()
    adapter = TeamsAdapter(settings, engine)  # type: ignore[arg-type]
    app = web.Application()
    app.add_routes(adapter.routes())
    activity = recorded("message")
    del activity["channelData"]["tenant"]
    assert activity["conversation"]["tenantId"] == TENANT
    activity["serviceUrl"] = connector.url
    token = openid.token(audience=APP_ID, service_url=connector.url)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": f"Bearer {token}"}
            url = server.make_url("/api/messages")
            async with http.post(url, json=activity, headers=headers) as response:
                assert response.status == status, await response.text()
    finally:
        await server.close()
        await adapter.close()
    assert len(engine.handled) == (1 if status == 200 else 0)
