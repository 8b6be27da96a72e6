"""Microsoft Teams end to end: our real server on loopback, activities carrying real JWTs that
botframework-connector validates against OpenID metadata + JWKS served from a thread
(tests/fakes/openid_keys.py), and replies delivered by the delivery worker through botbuilder's
CloudAdapter to a fake Bot Connector API (tests/fakes/bot_connector.py), whose token endpoint
MSAL calls for the bot's outbound token."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from botbuilder.schema import Activity
from pydantic import SecretStr
from sqlalchemy import select

from adapters import teams_cards
from adapters.base import Mount
from adapters.media import MediaRefused, origin
from adapters.teams import TeamsAdapter, mount
from bot.app import Runtime, build_runtime
from bot.config import Settings
from bot.delivery import DeliveryWorker
from bot.engine import Engine
from bot.errors import ConfigError
from bot.i18n import t
from bot.messages import PAYLOAD_JOIN, Choice, DeliveryError, MediaRef, Outgoing, Recipient
from bot.server import create_web_app
from dialogs.poll import vote_payload
from storage.models import Ballot, ChannelAccount, InboundEvent, OutboxMessage, utcnow
from tests.adapters.payloads import load
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.openid_keys import OpenIdKeys, new_key
from tests.support.databases import count
from tests.support.org import Org
from tests.support.polls import create_poll

APP_ID = "a1b2c3d4-0000-4000-8000-000000000001"
APP_PASSWORD = "app-password-for-tests"
TENANT = "72f988bf-0000-4000-8000-000000000002"
BOT = {"id": f"28:{APP_ID}", "name": "achterban"}
_activity_ids = itertools.count(1_700_000_000_001)
# Fields of the recorded message activity that only a message carries.
_MESSAGE_ONLY = ("text", "textFormat", "entities", "localTimestamp", "localTimezone")


@pytest.fixture(scope="module")
def openid() -> Iterator[OpenIdKeys]:
    with OpenIdKeys().serve() as keys:
        yield keys


@pytest.fixture
def connector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBotConnector]:
    with FakeBotConnector(APP_ID, APP_PASSWORD).serve(tmp_path) as fake:
        # MSAL (requests) must trust the fake login server's test CA.
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", fake.ca_file)
        yield fake


@pytest.fixture
def teams_settings(settings: Settings, openid: OpenIdKeys, connector: FakeBotConnector) -> Settings:
    return settings.model_copy(
        update={
            "microsoft_app_id": APP_ID,
            "microsoft_app_password": SecretStr(APP_PASSWORD),
            "teams_openid_metadata_url": openid.metadata_url,
            "teams_login_url": connector.login_url,
        }
    )


def member(key: str) -> dict[str, Any]:
    """A TeamsChannelAccount as GET /v3/conversations/{id}/members/{id} returns it."""
    return {
        "id": f"29:{key}",
        "name": key.capitalize(),
        "aadObjectId": f"aad-{key}",
        "email": f"{key}@example.org",
        "userPrincipalName": f"{key}@example.org",
        "tenantId": TENANT,
        "userRole": "user",
    }


@dataclass
class Bot:
    """Our server as the Bot Connector sees it, and the delivery worker."""

    runtime: Runtime
    server: TestServer
    http: aiohttp.ClientSession
    keys: OpenIdKeys
    connector: FakeBotConnector

    def activity(self, key: str, type_: str = "message", **fields: Any) -> dict[str, Any]:
        """An activity from `key`'s 1:1 chat: the recorded payloads/teams/message.json (what
        Teams sends), addressed to this test's bot, tenant and Bot Connector. Other types
        keep its envelope without the message's own fields (text, client info)."""
        self.connector.members.setdefault(f"29:{key}", member(key))
        activity = load("teams", "message")
        if type_ != "message":
            for name in _MESSAGE_ONLY:
                activity.pop(name, None)
        activity.update(
            type=type_,
            id=str(next(_activity_ids)),
            serviceUrl=self.connector.url,
            recipient=BOT,
            channelData={"tenant": {"id": TENANT}},
        )
        activity["from"] = {
            "id": f"29:{key}",
            "name": key.capitalize(),
            "aadObjectId": f"aad-{key}",
        }
        activity["conversation"].update(tenantId=TENANT, id=f"a:personal-{key}")
        activity.update(fields)
        return activity

    def message(self, key: str, text: str = "", **fields: Any) -> dict[str, Any]:
        return self.activity(key, text=text, textFormat="plain", **fields)

    def install(self, key: str) -> dict[str, Any]:
        return self.activity(key, "conversationUpdate", membersAdded=[{"id": BOT["id"]}])

    def token(self, **claims: Any) -> str:
        return self.keys.token(
            audience=claims.pop("audience", APP_ID),
            service_url=claims.pop("service_url", self.connector.url),
            **claims,
        )

    async def post(
        self,
        activity: dict[str, Any] | None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
    ) -> aiohttp.ClientResponse:
        if headers is None:
            headers = {"Authorization": f"Bearer {token or self.token()}"}
        kwargs: dict[str, Any] = {"data": data} if data is not None else {"json": activity}
        async with self.http.post(
            self.server.make_url("/api/messages"), headers=headers, **kwargs
        ) as resp:
            await resp.read()
            return resp

    async def deliver(self, *, later: timedelta = timedelta(0)) -> int:
        worker = DeliveryWorker(
            self.runtime.db,
            self.runtime.settings,
            self.runtime.adapters,
            clock=lambda: utcnow() + later,
        )
        return await worker.drain()

    @property
    def adapter(self) -> TeamsAdapter:
        adapter = self.runtime.mounts["teams"].adapter
        assert isinstance(adapter, TeamsAdapter)
        return adapter


@asynccontextmanager
async def serving(
    settings: Settings,
    keys: OpenIdKeys,
    connector: FakeBotConnector,
    **adapter_options: Any,
) -> AsyncIterator[Bot]:
    runtime = build_runtime(settings)
    assert runtime.channel_notes["teams"] == "on"
    if adapter_options:
        adapter = TeamsAdapter(settings, runtime.engine, **adapter_options)
        runtime.mounts["teams"] = Mount(adapter, adapter.routes())
    server = TestServer(create_web_app(runtime, background=False), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield Bot(runtime, server, http, keys, connector)
    finally:
        await server.close()


@pytest.fixture
async def bot(
    teams_settings: Settings, openid: OpenIdKeys, connector: FakeBotConnector
) -> AsyncIterator[Bot]:
    async with serving(teams_settings, openid, connector) as running:
        yield running


async def outbox_rows(engine: Engine) -> list[OutboxMessage]:
    async with engine.db.transaction(read_only=True) as session:
        stmt = select(OutboxMessage).where(OutboxMessage.channel == "teams")
        return list((await session.execute(stmt.order_by(OutboxMessage.id))).scalars())


def card_of(activity: dict[str, Any]) -> dict[str, Any]:
    (attachment,) = activity["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card: dict[str, Any] = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    return card


def card_text(activity: dict[str, Any]) -> str:
    return "\n".join(b["text"] for b in card_of(activity)["body"] if b["type"] == "TextBlock")


# -- end to end ------------------------------------------------------------------------------


async def test_installation_greets_with_a_card_and_stores_the_reference(
    bot: Bot, connector: FakeBotConnector, engine: Engine, org: Org
) -> None:
    resp = await bot.post(bot.install("emp0"))
    assert resp.status == 200
    async with engine.db.transaction(read_only=True) as session:
        account = (
            await session.execute(select(ChannelAccount).where(ChannelAccount.channel == "teams"))
        ).scalar_one()
    assert account.platform_id == "aad-emp0"
    assert account.person_id == org.people["emp0"].id  # matched by the member's e-mail
    ref = account.conversation_ref
    assert ref is not None and "activityId" not in ref
    assert ref["serviceUrl"] == connector.url
    assert ref["conversation"]["id"] == "a:personal-emp0"
    assert ref["user"]["id"] == "29:emp0" and ref["bot"]["id"] == BOT["id"]
    assert connector.member_lookups == ["29:emp0"]

    # Teams announces the same installation again as installationUpdate: one greeting.
    again = bot.activity("emp0", "installationUpdate", action="add")
    assert (await bot.post(again)).status == 200
    assert await bot.deliver() == 1
    (greeting,) = connector.sent("a:personal-emp0")
    assert greeting["type"] == "message"
    assert card_text(greeting).startswith(t("nl", "menu.greeting", name="Emp0"))
    actions = card_of(greeting)["actions"]
    assert {"type": "Action.Submit", "title": t("nl", "menu.button_polls"),
            "data": {"payload": "menu:polls"}} in actions  # fmt: skip
    assert greeting["recipient"]["id"] == "29:emp0"
    assert greeting["from"]["id"] == BOT["id"]


async def test_poll_card_submit_counts_once_and_updates_the_card(
    bot: Bot, connector: FakeBotConnector, engine: Engine, org: Org
) -> None:
    await bot.post(bot.install("emp0"))
    await bot.deliver()
    poll_id, option_ids = await create_poll(engine, ["Ja", "Nee", "Weet niet"])
    assert await bot.deliver() == 1  # only emp0 installed the app
    poll_card = connector.sent("a:personal-emp0")[-1]
    assert t("nl", "poll.header", id=poll_id) in card_text(poll_card)
    actions = card_of(poll_card)["actions"]
    assert [a["title"] for a in actions] == ["Ja", "Nee", "Weet niet"]
    assert actions[1]["data"] == {"payload": vote_payload(poll_id, option_ids[1])}

    # Pressing "Nee": Teams posts a message with no text, value = the button's data.
    submit = bot.message(
        "emp0", value=actions[1]["data"], replyToId=poll_card["_id"],
        channelData={"tenant": {"id": TENANT}, "source": {"name": "message"}},
    )  # fmt: skip
    submit.pop("text")
    assert (await bot.post(submit)).status == 200
    assert (await bot.post(submit)).status == 200  # the Bot Connector retried
    assert await count(engine.db, Ballot, Ballot.poll_id == poll_id) == 1
    assert await count(engine.db, Ballot, Ballot.option_id == option_ids[1]) == 1
    assert await count(engine.db, InboundEvent, InboundEvent.channel == "teams") == 2

    assert await bot.deliver() == 1
    update = connector.activities[-1]
    assert update["_op"] == "update" and update["_id"] == poll_card["_id"]
    assert t("nl", "poll.voted", id=poll_id, choice="Nee") in card_text(update)
    rows = await outbox_rows(engine)
    assert rows[-1].status == "sent" and rows[-1].platform_message_id == poll_card["_id"]
    # The bot's token was fetched once (MSAL's cache is kept) for every call above.
    assert len(connector.token_requests) == 1
    assert connector.token_requests[0]["scope"] == "https://api.botframework.com/.default"


async def test_multiple_choice_card_and_typed_answer_with_mention(
    bot: Bot, connector: FakeBotConnector, engine: Engine, org: Org
) -> None:
    await bot.post(bot.install("emp2"))
    await bot.deliver()
    poll_id, option_ids = await create_poll(engine, ["Rood", "Groen", "Blauw"], multiple=True)
    await bot.deliver()
    card = card_of(connector.sent("a:personal-emp2")[-1])
    (choice_set,) = [b for b in card["body"] if b["type"] == "Input.ChoiceSet"]
    assert choice_set["isMultiSelect"] is True
    assert [c["value"] for c in choice_set["choices"]] == [
        vote_payload(poll_id, o) for o in option_ids
    ]
    (submit_button,) = card["actions"]
    assert submit_button["title"] == t("nl", "common.submit")
    # Input.ChoiceSet sends the selected values comma-separated, merged with the data.
    selected = f"{vote_payload(poll_id, option_ids[0])},{vote_payload(poll_id, option_ids[2])}"
    value = {**submit_button["data"], choice_set["id"]: selected}
    assert (await bot.post(bot.message("emp2", value=value))).status == 200
    voted = {b.option_id for b in await ballots(engine, poll_id)}
    assert voted == {option_ids[0], option_ids[2]}

    # A typed answer in a chat where the bot is @mentioned: the mention is not part of it.
    other_id, other_options = await create_poll(engine, ["Ja", "Nee"])
    await bot.deliver()
    assert (await bot.post(bot.message("emp2", "<at>achterban</at> 2"))).status == 200
    assert {b.option_id for b in await ballots(engine, other_id)} == {other_options[1]}


async def ballots(engine: Engine, poll_id: int) -> list[Ballot]:
    async with engine.db.transaction(read_only=True) as session:
        stmt = select(Ballot).where(Ballot.poll_id == poll_id)
        return list((await session.execute(stmt)).scalars())


# -- inbound: authentication and bad input -----------------------------------------------------

FORGED = {
    "wrong audience": {"audience": "another-bot"},
    "expired": {"expires_in": -3600},
    "wrong issuer": {"issuer": "https://evil.example.com"},
    "wrong serviceurl": {"service_url": "https://evil.example.com/"},
    "unknown key id": {"kid": "not-published"},
    "signed by another key": {"key": "other"},
}


@pytest.mark.parametrize("why", list(FORGED))
async def test_forged_tokens_are_refused_and_nothing_is_stored(
    bot: Bot, connector: FakeBotConnector, engine: Engine, org: Org, why: str
) -> None:
    claims = dict(FORGED[why])
    if claims.get("key") == "other":
        claims["key"] = new_key()  # same kid, but not the published key
    resp = await bot.post(bot.message("emp0", "hallo"), token=bot.token(**claims))
    assert resp.status == 401
    assert await count(engine.db, InboundEvent) == 0
    assert connector.member_lookups == []


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": ""}, {"Authorization": "Bearer"}, {"Authorization": "Basic abc"},
     {"Authorization": "Bearer not-a-jwt"}],
    ids=["missing", "empty", "no token", "basic", "garbage"],
)  # fmt: skip
async def test_missing_or_malformed_authorization_is_401(
    bot: Bot, engine: Engine, org: Org, headers: dict[str, str]
) -> None:
    resp = await bot.post(bot.message("emp0", "hallo"), headers=headers)
    assert resp.status == 401
    assert await count(engine.db, InboundEvent) == 0


async def test_an_activity_for_another_channel_is_refused(bot: Bot, engine: Engine) -> None:
    # The signing key is endorsed for msteams (and the Emulator) only, as in production.
    resp = await bot.post(bot.message("emp0", "hallo", channelId="webchat"))
    assert resp.status == 401
    assert await count(engine.db, InboundEvent) == 0


async def test_bad_content_type_malformed_json_and_unknown_types(
    bot: Bot, connector: FakeBotConnector, engine: Engine, org: Org
) -> None:
    auth = {"Authorization": f"Bearer {bot.token()}"}
    body = b'{"type": "message", "text": "hallo"}'
    plain = await bot.post(None, headers={**auth, "Content-Type": "text/plain"}, data=body)
    assert plain.status == 415
    assert (await bot.post(None, headers=auth, data=body)).status == 415  # no content type
    as_json = {**auth, "Content-Type": "application/json"}
    for bad in (
        b"{not json", b"[1, 2]", b'"text"', b'{"text": "no type"}', b"\xff\xfe",
        b'{"type": "message", "from": "x"}', b'{"type": "message", "timestamp": "soon"}',
    ):  # fmt: skip
        assert (await bot.post(None, headers=as_json, data=bad)).status == 400, bad
    anonymous = bot.message("emp0", "hallo")
    del anonymous["from"]
    assert (await bot.post(anonymous)).status == 400
    for kind in ("typing", "messageReaction", "invoke", "endOfConversation"):
        assert (await bot.post(bot.activity("emp0", kind))).status == 200
    # The bot added to a team channel: authentic, but nobody to greet in private.
    in_team = bot.install("emp0")
    in_team["conversation"] = {"conversationType": "channel", "id": "19:x@thread.tacv2"}
    assert (await bot.post(in_team)).status == 200
    assert await count(engine.db, InboundEvent) == 0
    assert connector.member_lookups == []
    assert (await bot.post(bot.message("emp0", "x" * (1024 * 1024)))).status == 413


async def test_single_tenant_refuses_other_tenants(
    teams_settings: Settings, openid: OpenIdKeys, connector: FakeBotConnector,
    engine: Engine, org: Org,
) -> None:  # fmt: skip
    single = teams_settings.model_copy(
        update={"microsoft_app_type": "SingleTenant", "microsoft_app_tenant_id": TENANT}
    )
    async with serving(single, openid, connector) as bot:
        foreign = bot.message("emp0", "hallo")
        foreign["channelData"] = {"tenant": {"id": "another-tenant"}}
        foreign["conversation"]["tenantId"] = "another-tenant"
        assert (await bot.post(foreign)).status == 403
        assert await count(engine.db, InboundEvent) == 0
        assert (await bot.post(bot.message("emp0", "hallo"))).status == 200
        assert await count(engine.db, InboundEvent) == 1


async def test_store_unavailable_answers_503(
    teams_settings: Settings, openid: OpenIdKeys, connector: FakeBotConnector
) -> None:
    down = teams_settings.model_copy(
        update={"database_url": "postgresql+asyncpg://nobody@127.0.0.1:9/none"}
    )
    async with serving(down, openid, connector) as bot:
        assert (await bot.post(bot.message("emp0", "hallo"))).status == 503


async def test_group_chat_message_does_not_replace_the_personal_reference(
    bot: Bot, connector: FakeBotConnector, engine: Engine, org: Org
) -> None:
    await bot.post(bot.install("emp1"))
    group = bot.message("emp1", "<at>achterban</at> help")
    group["conversation"] = {"conversationType": "groupChat", "id": "19:group@thread.v2"}
    assert (await bot.post(group)).status == 200
    async with engine.db.transaction(read_only=True) as session:
        account = (
            await session.execute(select(ChannelAccount).where(ChannelAccount.channel == "teams"))
        ).scalar_one()
    assert account.conversation_ref is not None
    assert account.conversation_ref["conversation"]["id"] == "a:personal-emp1"
    assert await bot.deliver() == 2  # greeting and help, both in the 1:1 chat
    assert len(connector.sent("a:personal-emp1")) == 2
    assert connector.sent("19:group@thread.v2") == []


async def test_unknown_member_under_roster_is_refused_without_a_profile(
    bot: Bot, connector: FakeBotConnector, engine: Engine, org: Org
) -> None:
    stranger = bot.message("stranger", "hallo")
    connector.members.clear()  # get_member answers 404: continue without a profile
    assert (await bot.post(stranger)).status == 200
    assert connector.member_lookups == ["29:stranger"]
    assert await count(engine.db, ChannelAccount, ChannelAccount.channel == "teams") == 0
    # The polite refusal travels with the activity's reference; nothing else is stored.
    await bot.deliver()
    (row,) = await outbox_rows(engine)
    assert row.status == "sent" and row.recipient_ref is None and row.payload is None
    assert "personeelsbestand" in json.dumps(connector.sent("a:personal-stranger"))


# -- outbound: errors from the Bot Connector ---------------------------------------------------


async def test_429_is_retried_after_retry_after_and_403_fails_permanently(
    bot: Bot, connector: FakeBotConnector, engine: Engine, org: Org
) -> None:
    connector.fail_next(429, retry_after=7)
    await bot.post(bot.install("emp0"))
    before = utcnow()
    await bot.deliver()
    (row,) = await outbox_rows(engine)
    assert row.status == "pending" and row.last_error and "429" in row.last_error
    wait = (row.next_attempt_at - before).total_seconds()
    assert 6 <= wait <= 9
    assert await bot.deliver(later=timedelta(seconds=3)) == 0  # not yet
    assert await bot.deliver(later=timedelta(seconds=9)) == 1
    assert (await outbox_rows(engine))[0].status == "sent"
    assert connector.refused == [429]

    for status in (502, 503, 504, 412):
        connector.fail_next(status)
        await bot.post(bot.message("emp0", "help"))
        await bot.deliver()
        await bot.deliver(later=timedelta(minutes=5))  # after the backoff
        row = (await outbox_rows(engine))[-1]
        assert (row.status, row.attempts) == ("sent", 2), status
        assert connector.refused[-1] == status

    for status in (403, 404):
        connector.fail_next(status)
        await bot.post(bot.message("emp0", "help"))
        await bot.deliver()
        row = (await outbox_rows(engine))[-1]
        assert row.status == "failed", status
        assert row.last_error is not None and str(status) in row.last_error
    assert "MessageWritesBlocked" in (await outbox_rows(engine))[-2].last_error  # type: ignore[operator]
    assert all("Bearer" not in (r.last_error or "") for r in await outbox_rows(engine))


async def test_send_without_reference_fails_permanently(bot: Bot) -> None:
    rendered = bot.adapter.render(Outgoing(text="Hallo"))
    with pytest.raises(DeliveryError) as raised:
        await bot.adapter.send(Recipient("aad-nobody"), rendered)
    assert raised.value.permanent
    assert "not installed" in raised.value.reason


async def test_an_update_of_a_vanished_card_is_sent_as_a_new_message(
    bot: Bot, connector: FakeBotConnector, org: Org
) -> None:
    await bot.post(bot.install("emp3"))
    await bot.deliver()
    (account_ref,) = [a for a in connector.sent() if a["_conversation"] == "a:personal-emp3"]
    reference = {
        "user": account_ref["recipient"], "bot": account_ref["from"],
        "conversation": {"id": "a:personal-emp3", "conversationType": "personal"},
        "channelId": "msteams", "serviceUrl": connector.url,
    }  # fmt: skip
    rendered = bot.adapter.render(Outgoing(text="Bijgewerkt", replaces="1234"))
    connector.fail_next(404)
    result = await bot.adapter.send(Recipient("aad-emp3", conversation_ref=reference), rendered)
    last = connector.activities[-1]
    assert last["_op"] in ("send", "reply") and result.platform_message_id == last["_id"]
    assert card_text(last) == "Bijgewerkt"


# -- emulator ------------------------------------------------------------------------------------


async def test_emulator_mode_accepts_unauthenticated_activities(
    settings: Settings, openid: OpenIdKeys, tmp_path: Path, engine: Engine
) -> None:
    emulator = settings.model_copy(update={"teams_emulator": True, "membership": "open"})
    fake = FakeBotConnector("", "", require_auth=False)
    with fake.serve(tmp_path):
        async with serving(emulator, openid, fake) as bot:
            activity = {
                "type": "message", "id": "emu-1", "channelId": "emulator",
                "serviceUrl": fake.url, "text": "hallo", "locale": "en-US",
                "from": {"id": "user-emu", "name": "Emu", "role": "user"},
                "recipient": {"id": "bot-emu", "name": "Bot", "role": "bot"},
                "conversation": {"id": "conv-emu|livechat"},
            }  # fmt: skip
            assert (await bot.post(activity, headers={})).status == 200
            assert await bot.deliver() == 1
            (reply,) = fake.sent("conv-emu|livechat")
            assert card_text(reply).startswith(t("en", "menu.greeting", name="Emu"))


async def test_without_emulator_mode_an_app_id_is_required(
    settings: Settings, engine: Engine
) -> None:
    with pytest.raises(ConfigError):
        mount(settings, engine)
    single = settings.model_copy(
        update={"microsoft_app_id": APP_ID, "microsoft_app_type": "SingleTenant"}
    )
    with pytest.raises(ConfigError):
        mount(single, engine)  # no password, no tenant


# -- media -------------------------------------------------------------------------------------


async def test_media_from_microsoft_hosts_only_with_the_token_where_it_belongs(
    teams_settings: Settings, openid: OpenIdKeys, connector: FakeBotConnector,
    engine: Engine, org: Org,
) -> None:  # fmt: skip
    connector.files.update({"att-1": b"\x89PNG inline", "doc.png": b"\x89PNG file"})
    base = connector.url.rstrip("/")
    inline = MediaRef(f"{base}/v3/attachments/att-1/views/original", "image/*")
    download = MediaRef(base.replace("127.0.0.1", "localhost") + "/files/doc.png", "image/png")
    # Shared files come from SharePoint; the fake stands in for it on "localhost".
    async with serving(
        teams_settings, openid, connector, file_hosts=("sharepoint.com", origin(download.url))
    ) as bot:
        with pytest.raises(MediaRefused):
            await bot.adapter.fetch_media(inline)  # the serviceUrl host is not known yet
        message = bot.message("emp0", "", attachments=[
            {"contentType": "image/*", "contentUrl": inline.url},
            {"contentType": teams_cards.FILE_DOWNLOAD_INFO, "name": "doc.png",
             "content": {"downloadUrl": download.url, "uniqueId": "u1", "fileType": "png"}},
            {"contentType": "text/html", "content": "<p>foto</p>"},
        ])  # fmt: skip
        assert teams_cards.attachments(Activity().deserialize(message)) == (inline, download)
        assert (await bot.post(message)).status == 200
        assert await bot.adapter.fetch_media(inline) == b"\x89PNG inline"
        assert await bot.adapter.fetch_media(download) == b"\x89PNG file"
        inline_auth, download_auth = [auth for _, auth in connector.downloads[-2:]]
        assert inline_auth is not None and inline_auth.removeprefix("Bearer ") in connector.issued
        assert download_auth is None  # never the bot's token to a file host
        with pytest.raises(MediaRefused):
            await bot.adapter.fetch_media(MediaRef("https://evil.example.com/x.png"))
    capped = teams_settings.model_copy(update={"media_max_bytes": 4})
    small = TeamsAdapter(capped, engine, file_hosts=(origin(download.url),))
    with pytest.raises(MediaRefused):
        await small.fetch_media(download)
    await small.close()


# -- the card format ---------------------------------------------------------------------------


def test_render_lines_buttons_and_long_choice_lists() -> None:
    text = "📊 Peiling 3\nWat vind je?\n\nKies er één."
    few = teams_cards.render(
        Outgoing(text=text, choices=(Choice("Ja", "poll:3:vote:1"),), replaces="act-9"),
        lambda media_id: f"https://a.example/media/{media_id}",
    )
    assert few["replaces"] == "act-9"
    assert few["activity"]["summary"] == "📊 Peiling 3"
    body = card_of(few["activity"])["body"]
    assert [b["text"] for b in body] == ["📊 Peiling 3", "Wat vind je?", "Kies er één."]
    assert body[0]["weight"] == "Bolder" and all(b["wrap"] for b in body)
    assert [b.get("spacing") for b in body[1:]] == ["None", "Medium"]
    assert card_of(few["activity"])["actions"] == [
        {"type": "Action.Submit", "title": "Ja", "data": {"payload": "poll:3:vote:1"}}
    ]

    many = tuple(Choice(f"Optie {i}", f"poll:3:vote:{i}") for i in range(1, 9))
    card = card_of(teams_cards.render(Outgoing(text="Kies", choices=many), str)["activity"])
    assert "actions" not in card  # Teams would hide most of them in an overflow menu
    action_sets = [b for b in card["body"] if b["type"] == "ActionSet"]
    assert [s["actions"][0]["data"]["payload"] for s in action_sets] == [c.payload for c in many]

    plain = teams_cards.render(Outgoing(text="Hallo", images=("abc",)), lambda m: f"u/{m}")
    plain_card = card_of(plain["activity"])
    assert "actions" not in plain_card and plain["replaces"] is None
    assert plain_card["body"][0] == {"type": "TextBlock", "text": "Hallo", "wrap": True}
    assert plain_card["body"][1]["url"] == "u/abc"


def test_reading_submissions_and_mentions() -> None:
    read = teams_cards.submitted_choice
    assert read({"payload": "poll:1:vote:2"}) == "poll:1:vote:2"
    assert read({"multiple": True, "choices": "poll:1:vote:2,poll:1:vote:3"}) == PAYLOAD_JOIN.join(
        ["poll:1:vote:2", "poll:1:vote:3"]
    )
    for foreign in (None, "poll:1:vote:2", {"action": "x"}, {"multiple": True, "choices": ""},
                    {"payload": 5}, {"choices": "a,b"}):  # fmt: skip
        assert read(foreign) is None, foreign
    assert teams_cards.clean_text("<at>OR-bot</at>  peilingen ") == "peilingen"
    assert teams_cards.clean_text(None) == ""


async def test_reactions_on_a_broadcast_are_counted(
    bot: Bot, connector: FakeBotConnector, engine: Engine, org: Org
) -> None:
    from tests.support import broadcasts

    assert (await bot.post(bot.install("emp0"))).status in (200, 201)
    await bot.deliver()
    broadcast_id = await broadcasts.create(engine, "Nieuwe roosters staan online")
    await bot.deliver()
    async with engine.db.transaction(read_only=True) as session:
        sent_id = (
            (
                await session.execute(
                    select(OutboxMessage.platform_message_id)
                    .where(OutboxMessage.channel == "teams")
                    .order_by(OutboxMessage.id.desc())
                )
            )
            .scalars()
            .first()
        )
    assert sent_id
    like = bot.activity(
        "emp0", "messageReaction", replyToId=sent_id, reactionsAdded=[{"type": "like"}]
    )
    assert (await bot.post(like)).status in (200, 201)
    assert (await broadcasts.status(engine, broadcast_id)).reactions == 1
    undo = bot.activity(
        "emp0", "messageReaction", replyToId=sent_id, reactionsRemoved=[{"type": "like"}]
    )
    assert (await bot.post(undo)).status in (200, 201)
    assert (await broadcasts.status(engine, broadcast_id)).reactions == 0
