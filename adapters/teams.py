"""Microsoft Teams: Bot Framework activities in, Adaptive Cards out (botbuilder CloudAdapter).

Inbound (`POST /api/messages`): botframework-connector validates the Bot Connector's JWT
(issuer, audience = our app id, serviceurl claim, key endorsements); the activity becomes an
Incoming for the engine, and the turn ends as soon as the engine has committed — replies go
through the outbox, because Teams gives a turn only 10–15 s. Outbound: a proactive
`continue_conversation` on the conversation reference stored at installation or the last
message, so the bot can also write first.

This is the only module that imports botbuilder. botbuilder's support ended on 2025-12-31;
its successor (Microsoft 365 Agents SDK) needs Python >= 3.12 — see docs/teams.md. Porting
means rewriting this file; the card format in teams_cards.py stays.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Collection
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from botbuilder.core import BotAdapter, TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
    ConfigurationServiceClientCredentialFactory,
)
from botbuilder.schema import (
    Activity,
    CallerIdConstants,
    ConversationReference,
    ErrorResponseException,
)
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    ServiceClientCredentialsFactory,
)
from msrest.exceptions import ClientRequestError
from urllib3.util import Retry

from adapters import teams_cards
from adapters.base import Mount
from adapters.media import fetch_capped, host_allowed
from bot.config import Settings
from bot.engine import Engine
from bot.errors import ConfigError
from bot.media_links import media_url
from bot.messages import DeliveryError, Incoming, MediaRef, Outgoing, Profile, Recipient, SendResult

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
CONNECTOR_TIMEOUT_SECONDS = 30
SEND_TIMEOUT_SECONDS = 60  # the token fetch (MSAL) has no timeout of its own
PROFILE_TTL_SECONDS = 3600.0
PROFILE_CACHE_SIZE = 10_000
TRANSIENT_STATUSES = frozenset({401, 408, 412, 500, 502, 503, 504})


class _ReusedCredentials(ServiceClientCredentialsFactory):  # type: ignore[misc]
    """Hands out one credentials object per (app id, scope, login endpoint).

    botbuilder creates new credentials for every connector, each with a new MSAL app whose
    token cache starts empty, so every send would fetch a token. Reusing them keeps MSAL's
    cache: one token fetch per hour instead of one per message.
    """

    def __init__(self, inner: ServiceClientCredentialsFactory) -> None:
        self._inner = inner
        self._cache: dict[tuple[str, str, str, bool], Any] = {}

    async def is_valid_app_id(self, app_id: str) -> bool:
        return bool(await self._inner.is_valid_app_id(app_id))

    async def is_authentication_disabled(self) -> bool:
        return bool(await self._inner.is_authentication_disabled())

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> Any:
        key = (app_id or "", oauth_scope or "", login_endpoint or "", bool(validate_authority))
        if key not in self._cache:
            self._cache[key] = await self._inner.create_credentials(
                app_id, oauth_scope, login_endpoint, validate_authority
            )
        return self._cache[key]


def bot_configuration(settings: Settings) -> SimpleNamespace:
    """The configuration object botbuilder's Configuration* classes read (by attribute name)."""
    password = settings.microsoft_app_password
    config = SimpleNamespace(
        APP_ID=settings.microsoft_app_id or "",
        APP_PASSWORD=password.get_secret_value() if password else "",
        APP_TYPE=settings.microsoft_app_type,
        APP_TENANTID=settings.microsoft_app_tenant_id or "",
    )
    if settings.teams_openid_metadata_url or settings.teams_login_url:
        # Any override switches botbuilder to its parameterized authentication, which needs
        # every endpoint; those not overridden keep the public cloud's values.
        constants = AuthenticationConstants
        config.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL = (
            settings.teams_openid_metadata_url or constants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
        )
        config.TO_CHANNEL_FROM_BOT_LOGIN_URL = (
            settings.teams_login_url or constants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX
        )
        config.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE = constants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
        config.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER = constants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
        config.OAUTH_URL = constants.OAUTH_URL
        config.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL = (
            constants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL
        )
        config.CALLER_ID = CallerIdConstants.public_azure_channel
    return config


class TeamsAdapter:
    channel = CHANNEL

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        file_hosts: Collection[str] = FILE_HOSTS,
    ) -> None:
        if not settings.microsoft_app_id and not settings.teams_emulator:
            raise ConfigError("Teams needs MicrosoftAppId (or ACHTERBAN_TEAMS_EMULATOR=1)")
        self.settings = settings
        self.engine = engine
        self.app_id = settings.microsoft_app_id or ""
        self.single_tenant = settings.microsoft_app_type.lower() == "singletenant"
        config = bot_configuration(settings)
        try:
            self.credentials = _ReusedCredentials(
                ConfigurationServiceClientCredentialFactory(config)
            )
            self.auth = ConfigurationBotFrameworkAuthentication(
                config, credentials_factory=self.credentials
            )
        except Exception as exc:  # botbuilder raises bare Exception for missing settings
            raise ConfigError(f"Teams settings incomplete: {exc}") from exc
        self.cloud = CloudAdapter(self.auth)
        self.channel_ids = {TEAMS_CHANNEL_ID} | (
            {EMULATOR_CHANNEL_ID} if settings.teams_emulator else set()
        )
        self.file_hosts = tuple(file_hosts)
        self._service_hosts: set[str] = set()
        self._profiles: dict[str, tuple[float, Profile]] = {}
        self._session: aiohttp.ClientSession | None = None

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
        except (ValueError, TypeError, AttributeError):  # msrest errors subclass ValueError
            activity = None
        if activity is None or not activity.type:
            return _error(400, "malformed activity")
        try:
            auth = await self.auth.authenticate_request(
                activity, request.headers.get("Authorization") or None
            )
        except Exception as exc:  # unknown kid raises IndexError, and so on
            log.info("teams activity refused", extra={"reason": type(exc).__name__})
            return _error(401, "unauthorized")
        if not self._authenticated(auth):
            return _error(401, "unauthorized")
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
            # Signed (serviceurl claim), so its host may receive the bot's token for media.
            self._service_hosts.add((urlsplit(activity.service_url).hostname or "").lower())
        await self.cloud.process_activity(auth, activity, self._on_turn)
        return web.Response(status=200)

    def _authenticated(self, auth: AuthenticateRequestResult) -> bool:
        identity = auth.claims_identity
        if identity is None or not identity.is_authenticated:
            return False
        anonymous = identity.authentication_type == AuthenticationConstants.ANONYMOUS_AUTH_TYPE
        return not anonymous or self.settings.teams_emulator

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
                            CHANNEL, activity.reply_to_id, reaction.type or "",
                            account=account, added=added,
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
        """Set up the turn's connector: no hidden retries (the outbox retries, honouring
        Retry-After), a timeout, and the token fetched in a thread — MSAL's fetch is blocking
        and would otherwise stall the event loop."""
        client = context.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)
        if client is None:
            return
        client.config.retry_policy.policy = Retry(total=0, raise_on_status=False)
        client.config.connection.timeout = CONNECTOR_TIMEOUT_SECONDS
        credentials = client.config.credentials
        if getattr(credentials, "microsoft_app_id", None):
            await asyncio.to_thread(credentials.get_access_token)

    # -- outbound --------------------------------------------------------------------------

    def render(self, outgoing: Outgoing) -> dict[str, Any]:
        return teams_cards.render(outgoing, self._media_url)

    def _media_url(self, media_id: str) -> str:
        return media_url(self.settings, media_id)

    async def send(self, recipient: Recipient, rendered: dict[str, Any]) -> SendResult:
        if not recipient.conversation_ref:
            raise DeliveryError(
                "no Teams conversation reference: the app is not installed for this person",
                permanent=True,
            )
        reference = ConversationReference().deserialize(recipient.conversation_ref)
        activity = Activity().deserialize(rendered["activity"])
        replaces: str | None = rendered.get("replaces")
        sent: list[str | None] = []

        async def deliver(context: TurnContext) -> None:
            await self._prepare(context)
            if replaces:
                activity.id = replaces
                try:
                    await context.update_activity(activity)
                    sent.append(replaces)
                    return
                except ErrorResponseException as exc:
                    if _status(exc) not in (400, 404):
                        raise
                    activity.id = None  # the card is gone or fixed: answer in a new message
            response = await context.send_activity(activity)
            sent.append(response.id if response else None)

        try:
            async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
                await self.cloud.continue_conversation(reference, deliver, self.app_id)
        except ErrorResponseException as exc:
            raise _delivery_error(exc) from None
        except (ClientRequestError, PermissionError, TimeoutError) as exc:
            # Connector unreachable or slow, or the token could not be fetched (MSAL).
            raise DeliveryError(f"Teams connector: {type(exc).__name__}") from None
        return SendResult(platform_message_id=sent[0] if sent else None)

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
        if self._session is not None:
            await self._session.close()
            self._session = None


def mount(settings: Settings, engine: Engine) -> Mount:
    adapter = TeamsAdapter(settings, engine)
    return Mount(adapter=adapter, routes=adapter.routes())


# -- helpers -----------------------------------------------------------------------------


def _reference(activity: Activity) -> dict[str, Any]:
    """The conversation reference as stored: without the activity id, so a proactive message
    is not a reply to an old one and the stored value changes only when the chat does."""
    reference: dict[str, Any] = TurnContext.get_conversation_reference(activity).serialize()
    reference.pop("activityId", None)
    return reference


def _status(exc: ErrorResponseException) -> int:
    return int(getattr(exc.response, "status_code", 0) or 0)


def _delivery_error(exc: ErrorResponseException) -> DeliveryError:
    status = _status(exc)
    error = getattr(getattr(exc, "error", None), "error", None)
    code = getattr(error, "code", None) or ""
    reason = f"Teams connector HTTP {status} {code}".strip()
    log.warning("teams send failed", extra={"status": status, "code": code})
    if status == 429:
        headers = getattr(exc.response, "headers", None) or {}
        # Teams limits sends per bot and conversation ("thread"): pause only this one.
        retry_after = _retry_after(headers.get("Retry-After"))
        return DeliveryError(reason, retry_after=retry_after, extra={"scope": "conversation"})
    if status in (403, 404):
        # 403 MessageWritesBlocked: the person blocked or uninstalled the app.
        return DeliveryError(reason, permanent=True)
    return DeliveryError(reason, permanent=status not in TRANSIENT_STATUSES and status < 500)


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the Bot Connector does not send the HTTP-date form)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
