"""Microsoft Teams: Bot Framework activities in, Adaptive Cards out (botbuilder).

Inbound (`POST /api/messages`): botframework-connector validates the Bot Connector's JWT
(issuer, audience = our app id, serviceurl claim, key endorsements); CloudAdapter runs the
turn, and the activity becomes an Incoming for the engine. The turn ends as soon as the engine
has committed — replies go through the outbox, because Teams gives a turn only 10–15 s.

Outbound: proactive, on the conversation reference stored at installation or the last
message, so the bot can also write first. Each send is what CloudAdapter.continue_conversation
ends in — the connector's send (or update) of one activity — on a connector client reused per
service URL (adapters/teams_connector.py, adapters/teams_transport.py), without a turn around
it. Someone who never opened the bot has no reference: with ACHTERBAN_TEAMS_GRAPH_INSTALL the
app is installed for them through Graph first (adapters/teams_graph.py), else the message
fails as unreachable.

This module and teams_connector.py, teams_transport.py and teams_wire.py are the only ones
that import botbuilder or msrest. Its support
ended on 2025-12-31; its successor (Microsoft 365 Agents SDK) needs Python >= 3.12 — see
docs/teams.md. Porting means rewriting these files; the card format in teams_cards.py and
the Graph installer stay.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Collection
from typing import Any

import aiohttp
from aiohttp import web
from botbuilder.core import BotAdapter, TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import Activity, ErrorResponseException
from botframework.connector.auth import AuthenticateRequestResult, AuthenticationConstants
from msrest.exceptions import ClientRequestError

from adapters import teams_cards
from adapters.base import EngineApi, Mount
from adapters.media import fetch_capped, host_allowed, origin
from adapters.teams_connector import authentication
from adapters.teams_graph import GraphConfig, TeamsInstaller
from adapters.teams_transport import TOKEN_REUSE_SECONDS, ReusedToken
from adapters.teams_wire import WireActivity, addressed, delivery_error, status_of
from bot.config import Settings
from bot.errors import ConfigError, StoreUnavailable
from bot.media_links import media_url
from bot.messages import DeliveryError, Incoming, MediaRef, Outgoing, Profile, Recipient, SendResult
from bot.text import storable

log = logging.getLogger(__name__)

CHANNEL = "teams"
ROUTE = "/api/messages"
TEAMS_CHANNEL_ID = "msteams"
EMULATOR_CHANNEL_ID = "emulator"
# Inline images (contentUrl) live on the Bot Connector and need the bot's token; the
# serviceUrl host of every authenticated activity is added at run time.
TOKEN_HOSTS: tuple[str, ...] = ("smba.trafficmanager.net", "botframework.com")
# Files shared in a 1:1 chat arrive as a pre-authorised SharePoint/OneDrive downloadUrl:
# fetched without any token.
FILE_HOSTS: tuple[str, ...] = ("sharepoint.com",)
MEMBER_LOOKUP_SECONDS = 5.0  # part of the 10–15 s Teams gives a turn
SEND_TIMEOUT_SECONDS = 60  # the token fetch (MSAL) has no timeout of its own
PROFILE_TTL_SECONDS = 3600.0
PROFILE_CACHE_SIZE = 10_000
# Graph installation off and no reference from Teams: counted by `broadcast status` as
# unreachable, teams_not_installed (storage/broadcasts.py UNREACHABLE_ERRORS).
NO_REFERENCE = "no Teams conversation reference: the app is not installed for this person"
INSTALLED_CACHE_SIZE = 10_000


class TeamsAdapter:
    channel = CHANNEL

    def __init__(
        self,
        settings: Settings,
        engine: EngineApi,
        *,
        file_hosts: Collection[str] = FILE_HOSTS,
        token_reuse: float = TOKEN_REUSE_SECONDS,
    ) -> None:
        if not settings.microsoft_app_id and not settings.teams_emulator:
            raise ConfigError("Teams needs MicrosoftAppId (or ACHTERBAN_TEAMS_EMULATOR=1)")
        self.settings = settings
        self.engine = engine
        self.app_id = settings.microsoft_app_id or ""
        self.single_tenant = settings.microsoft_app_type.lower() == "singletenant"
        try:
            self.auth = authentication(settings, token_reuse=token_reuse)
        except Exception as exc:  # botbuilder raises bare Exception for missing settings
            raise ConfigError(f"Teams settings incomplete: {exc}") from exc
        self.cloud = CloudAdapter(self.auth)
        self._identity = self.cloud.create_claims_identity(self.app_id)
        self.channel_ids = {TEAMS_CHANNEL_ID} | (
            {EMULATOR_CHANNEL_ID} if settings.teams_emulator else set()
        )
        self.file_hosts = tuple(file_hosts)
        self._service_hosts: set[str] = set()
        self._profiles: dict[str, tuple[float, Profile]] = {}
        self._session: aiohttp.ClientSession | None = None
        graph = GraphConfig.from_settings(settings)  # ConfigError when on and incomplete
        self.installer = TeamsInstaller(graph) if graph is not None else None
        self._installed: dict[str, dict[str, Any]] = {}  # account → reference, after Graph

    def routes(self) -> list[web.RouteDef]:
        return [web.post(ROUTE, self.on_request)]

    # -- inbound ---------------------------------------------------------------------------

    async def on_request(self, request: web.Request) -> web.Response:
        """Verify and translate one activity. botbuilder's own `process` answers 500 for some
        bad tokens and for a missing content type, so the checks are done here first."""
        if request.content_type != "application/json":
            return _error(415, "expected application/json")
        try:
            body = json.loads(await request.read())
            activity = Activity().deserialize(body) if isinstance(body, dict) else None
        except (ValueError, TypeError, AttributeError, RecursionError):
            # msrest errors subclass ValueError; JSON nested deeper than Python's parser
            # goes raises RecursionError.
            activity = None
        if activity is None or not activity.type:
            return _error(400, "malformed activity")
        teams_cards.drop_empty_entries(activity)
        try:
            auth = await self.auth.authenticate_request(
                activity, request.headers.get("Authorization") or None
            )
        except Exception as exc:  # unknown kid raises IndexError, and so on
            log.info("teams activity refused", extra={"reason": type(exc).__name__})
            return _error(401, "unauthorized")
        if not self._authenticated(auth):
            return _error(401, "unauthorized")
        if not self._service_url_allowed(activity, auth):
            log.info("teams activity with a foreign serviceUrl refused")
            return _error(403, "serviceUrl not allowed")
        if not self._tenant_allowed(activity):
            log.info("teams activity from another tenant refused")
            return _error(403, "tenant not allowed")
        if (
            activity.channel_id not in self.channel_ids
            or teams_cards.activity_kind(activity) is None
        ):
            return web.Response(status=200)  # authentic, but nothing for us
        sender, conversation = activity.from_property, activity.conversation
        if not (sender and sender.id and conversation and conversation.id):
            return _error(400, "activity without sender or conversation")
        if activity.service_url and self.app_id:
            # Signed (serviceurl claim), so its origin may receive the bot's token for media.
            self._service_hosts.add(origin(activity.service_url))
        await self.cloud.process_activity(auth, activity, self._on_turn)
        return web.Response(status=200)

    def _authenticated(self, auth: AuthenticateRequestResult) -> bool:
        identity = auth.claims_identity
        if identity is None or not identity.is_authenticated:
            return False
        anonymous = identity.authentication_type == AuthenticationConstants.ANONYMOUS_AUTH_TYPE
        return not anonymous or self.settings.teams_emulator

    def _service_url_allowed(self, activity: Activity, auth: AuthenticateRequestResult) -> bool:
        """Where replies to this activity may go. A token from the Bot Connector names the
        serviceUrl it was issued for, and botframework checks the activity against it. An
        unauthenticated or Emulator activity names any URL it likes, and the bot would post
        its replies (with its token, when it has an app id) there: in emulator mode those
        are taken only with a serviceUrl on this machine, where the Emulator runs."""
        identity = auth.claims_identity
        anonymous = (
            identity is None
            or identity.authentication_type == AuthenticationConstants.ANONYMOUS_AUTH_TYPE
        )
        if not (anonymous or activity.channel_id == EMULATOR_CHANNEL_ID):
            return True
        return teams_cards.loopback_url(activity.service_url)

    def _tenant_allowed(self, activity: Activity) -> bool:
        if not self.single_tenant:
            return True
        return teams_cards.tenant_of(activity) == self.settings.microsoft_app_tenant_id

    async def _on_turn(self, context: TurnContext) -> None:
        activity = context.activity
        conversation = activity.conversation
        user = activity.from_property
        personal = teams_cards.is_personal(conversation)
        kind = teams_cards.activity_kind(activity)
        if kind == "install" and not personal:
            return  # added to a team or group chat: nobody to greet in private
        if kind == "reaction":
            if personal and activity.reply_to_id:
                account = user.aad_object_id or user.id
                for added, reactions in (
                    (True, activity.reactions_added),
                    (False, activity.reactions_removed),
                ):
                    for reaction in reactions or ():
                        await self.engine.record_reaction(
                            CHANNEL, storable(activity.reply_to_id),
                            storable(reaction.type or ""), account=storable(account),
                            added=added,
                        )  # fmt: skip
            return
        common: dict[str, Any] = {
            "channel": CHANNEL,
            "account": user.aad_object_id or user.id,
            "locale": activity.locale,
            "profile": await self._profile(context),
            # Only a 1:1 chat is the person's own: a group's reference would send their
            # messages (and votes) to everyone in it.
            "conversation_ref": _reference(activity) if personal else None,
        }
        if kind == "install":
            # conversationUpdate and installationUpdate both announce one installation: a
            # stable event id greets once.
            await self.engine.handle(Incoming(event_id=f"{conversation.id}:installed", **common))
            return
        incoming = Incoming(
            event_id=f"{conversation.id}:{activity.id or uuid.uuid4().hex}",
            text=teams_cards.clean_text(activity.text),
            choice=teams_cards.submitted_choice(activity.value),
            attachments=teams_cards.attachments(activity) if personal else (),
            message_ref=activity.reply_to_id,
            **common,
        )
        outcome = await self.engine.handle(incoming)
        if outcome.duplicate:
            log.info("teams activity seen before", extra={"channel": CHANNEL})

    async def _profile(self, context: TurnContext) -> Profile | None:
        """E-mail / UPN from TeamsInfo.get_member, to match the roster; cached per account.
        A failed lookup is not fatal: the engine still knows accounts it linked before."""
        user = context.activity.from_property
        key = user.aad_object_id or user.id
        cached = self._profiles.get(key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        try:
            member = await asyncio.wait_for(self._member(context), MEMBER_LOOKUP_SECONDS)
        except Exception as exc:  # any failure: continue without a profile
            log.info("teams member lookup failed", extra={"error": type(exc).__name__})
            return Profile(name=user.name) if user.name else None
        profile = Profile(
            email=member.email or member.user_principal_name, name=member.name or user.name
        )
        if len(self._profiles) >= PROFILE_CACHE_SIZE:
            self._profiles.pop(next(iter(self._profiles)))
        self._profiles[key] = (time.monotonic() + PROFILE_TTL_SECONDS, profile)
        return profile

    async def _member(self, context: TurnContext) -> Any:
        await self._prepare(context)
        return await TeamsInfo.get_member(context, context.activity.from_property.id)

    async def _prepare(self, context: TurnContext) -> None:
        """Have the turn's token ready, fetched in a thread when it must be: MSAL's fetch is
        blocking and would stall the event loop when msrest signs the request."""
        client = context.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)
        credentials = client.config.credentials if client is not None else None
        if isinstance(credentials, ReusedToken):
            await credentials.refresh()

    # -- outbound --------------------------------------------------------------------------

    def render(self, outgoing: Outgoing) -> dict[str, Any]:
        return teams_cards.render(outgoing, self._media_url)

    def _media_url(self, media_id: str) -> str:
        return media_url(self.settings, media_id)

    async def send(self, recipient: Recipient, rendered: dict[str, Any]) -> SendResult:
        stored = recipient.conversation_ref or await self._reach(recipient.account)
        activity = addressed(rendered["activity"], stored)
        replaces: str | None = rendered.get("replaces")
        try:
            async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
                message_id = await self._post(activity, replaces)
        except ErrorResponseException as exc:
            raise delivery_error(exc) from None
        except (ClientRequestError, PermissionError, TimeoutError) as exc:
            # Connector unreachable or slow, or the token could not be fetched (MSAL).
            raise DeliveryError(f"Teams connector: {type(exc).__name__}") from None
        return SendResult(platform_message_id=message_id)

    async def _post(self, activity: WireActivity, replaces: str | None) -> str | None:
        """What CloudAdapter.continue_conversation ends in (the connector's send or update of
        one activity), without building a turn around it for every message."""
        client = await self._connector(activity["serviceUrl"])
        conversation = activity["conversation"]["id"]
        if replaces:
            try:
                await client.conversations.update_activity(conversation, replaces, activity)
                return replaces
            except ErrorResponseException as exc:
                if status_of(exc) not in (400, 404):
                    raise
                # The card is gone or fixed: answer in a new message.
        activity.pop("id", None)
        response = await client.conversations.send_to_conversation(conversation, activity)
        return response.id if response else None

    async def _connector(self, service_url: str) -> Any:
        factory = self.auth.create_connector_factory(self._identity)
        client = await factory.create(service_url, None)
        credentials = client.config.credentials
        if isinstance(credentials, ReusedToken):
            await credentials.refresh()
        return client

    async def _reach(self, account: str) -> dict[str, Any]:
        """Where to write to someone who never opened the bot: with Graph installation on,
        install the app for them, store the reference on their account (the workers of other
        processes read it from there) and keep it here for their next messages."""
        if account in self._installed:
            return self._installed[account]
        if self.installer is None:
            raise DeliveryError(NO_REFERENCE, permanent=True)
        reference = (await self.installer.reach(account)).conversation_ref
        try:
            await self.engine.store_reference(CHANNEL, account, reference)
        except StoreUnavailable:
            log.warning("teams reference not stored", extra={"channel": CHANNEL})
        if len(self._installed) >= INSTALLED_CACHE_SIZE:
            self._installed.pop(next(iter(self._installed)))
        self._installed[account] = reference
        return reference

    async def fetch_media(self, ref: MediaRef) -> bytes:
        """Inline images from the Bot Connector with the bot's token; shared files from their
        pre-authorised downloadUrl without one; nothing from any other host."""
        token_hosts = (*TOKEN_HOSTS, *sorted(self._service_hosts))
        headers: dict[str, str] = {}
        if self.app_id and host_allowed(ref.url, token_hosts):
            headers["Authorization"] = f"Bearer {await self._token()}"
        if self._session is None:
            self._session = aiohttp.ClientSession()
        body, _content_type = await fetch_capped(
            self._session,
            ref.url,
            allowed_hosts=(*token_hosts, *self.file_hosts),
            max_bytes=self.settings.media_max_bytes,
            credentials=headers,
            credential_hosts=token_hosts,
        )
        return body

    async def _token(self) -> str:
        identity = self.cloud.create_claims_identity(self.app_id)
        factory = self.auth.create_connector_factory(identity)
        client = await factory.create(f"https://{TOKEN_HOSTS[0]}/", None)
        return str(await asyncio.to_thread(client.config.credentials.get_access_token))

    async def close(self) -> None:
        await self.auth.close()
        if self.installer is not None:
            await self.installer.close()
        if self._session is not None:
            await self._session.close()
            self._session = None


def mount(settings: Settings, engine: EngineApi) -> Mount:
    adapter = TeamsAdapter(settings, engine)
    return Mount(adapter=adapter, routes=adapter.routes())


# -- helpers -----------------------------------------------------------------------------


def _reference(activity: Activity) -> dict[str, Any]:
    """The conversation reference as stored: without the activity id, so a proactive message
    is not a reply to an old one and the stored value changes only when the chat does."""
    reference: dict[str, Any] = TurnContext.get_conversation_reference(activity).serialize()
    reference.pop("activityId", None)
    return reference


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
