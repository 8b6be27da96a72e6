"""botbuilder's connector plumbing for the Teams adapter, set up once instead of per message.

CloudAdapter builds, for every proactive message and every inbound turn, a new
ConnectorClient and a new user-token client, each with a msrest configuration whose retry
policy alone costs milliseconds of CPU to build, a new `requests` session (a new connection)
and credentials that ask MSAL for the token again. Measured with bench/fanout.py that capped a
worker at about 50 Teams messages/s on loopback; see docs/teams.md for the figures.

Here: one credentials object per (app id, scope, login endpoint), whose token is reused for a
short while; one connector client per (app id, service URL, audience), configured once (no
hidden retries, a timeout); one user-token client per app id.

The connector's requests go out through aiohttp on the event loop (`AiohttpSender`, an msrest
pipeline sender) instead of msrest's default, which runs `requests` in executor threads: those
threads cost a Teams send 2–3 ms of CPU and hold the GIL the event loop needs. msrest still
builds, serializes and deserializes every request; only the transport differs. (msrest ships
an aiohttp sender of its own, but 0.7.1's sends neither the headers nor the body.)

Tokens stay correct: MSAL hands out a token only while it has more than five minutes left and
renews it otherwise, and a token is used here for at most four of those minutes.

Part of the Teams adapter: with adapters/teams.py the only modules that import botbuilder.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import aiohttp
import requests
from botbuilder.integration.aiohttp import (
    ConfigurationBotFrameworkAuthentication,
    ConfigurationServiceClientCredentialFactory,
)
from botbuilder.schema import Activity, CallerIdConstants
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConstants,
    ClaimsIdentity,
    ConnectorFactory,
    ServiceClientCredentialsFactory,
    UserTokenClient,
)
from msrest.exceptions import ClientRequestError
from msrest.pipeline import AsyncHTTPSender, AsyncPipeline, Request, Response, SansIOHTTPPolicy
from msrest.pipeline.universal import RawDeserializer
from msrest.serialization import Serializer
from msrest.universal_http.async_abc import AsyncClientResponse
from multidict import CIMultiDict
from urllib3.util import Retry

from bot.config import Settings

CONNECTOR_TIMEOUT_SECONDS = 30
# MSAL never hands out a token with less than 5 minutes left, so one is used for at most 4
# of them, and MSAL is asked again (it renews in time) after 2.
TOKEN_USABLE_SECONDS = 240.0
TOKEN_REUSE_SECONDS = 120.0
CONNECTOR_CACHE_SIZE = 64  # service URLs are few (one per Teams region)


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


def authentication(
    settings: Settings, *, token_reuse: float = TOKEN_REUSE_SECONDS
) -> ReusingAuthentication:
    """The Bot Framework authentication for these settings; raises botbuilder's bare
    Exception when a setting it needs is missing."""
    config = bot_configuration(settings)
    credentials = ReusedCredentials(
        ConfigurationServiceClientCredentialFactory(config), token_reuse=token_reuse
    )
    return ReusingAuthentication(config, credentials_factory=credentials)


class ReusedToken:
    """Credentials (msrest `Authentication`, as botframework's AppCredentials) that sign
    requests with the token MSAL last gave them.

    msrest signs every request by asking the credentials for a token, and MSAL's cache lookup
    costs more than the request itself on loopback. `refresh` (before a send, in a thread)
    asks MSAL again once the token is `reuse` seconds old; signing uses the token while it is
    younger than TOKEN_USABLE_SECONDS, so it never waits on MSAL in the event loop after a
    refresh. Anything else is asked of the wrapped credentials (their app id, scope, …).
    """

    def __init__(self, inner: Any, reuse: float) -> None:
        self._inner = inner
        self._reuse = min(reuse, TOKEN_USABLE_SECONDS)
        self._token: tuple[str, float] | None = None  # (token, fetched at, monotonic)
        self._refreshing = asyncio.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _younger_than(self, seconds: float) -> str | None:
        if self._token is None or time.monotonic() - self._token[1] >= seconds:
            return None
        return self._token[0]

    def get_access_token(self, force_refresh: bool = False) -> str:
        """The token; from MSAL (which fetches or renews it, blocking) when it is too old."""
        if force_refresh:
            return self._fetch(force_refresh=True)
        return self._younger_than(TOKEN_USABLE_SECONDS) or self._fetch()

    def _fetch(self, *, force_refresh: bool = False) -> str:
        token = str(self._inner.get_access_token(force_refresh))
        self._token = (token, time.monotonic())
        return token

    async def refresh(self) -> None:
        """Ask MSAL in a thread once the token is `reuse` seconds old: its fetch blocks, and
        the event loop must not wait on the login server. One at a time; the rest reuse it."""
        if not getattr(self._inner, "microsoft_app_id", None):
            return  # no app id: requests go unsigned (the emulator)
        async with self._refreshing:
            if self._younger_than(self._reuse) is None:
                await asyncio.to_thread(self._fetch)

    def authorization(self) -> str | None:
        """The Authorization header for a request, or None when requests go unsigned
        (AppCredentials.signed_session's rule: no app id, as with the emulator)."""
        if self._inner._should_set_token(None):
            return f"Bearer {self.get_access_token()}"
        return None

    def signed_session(self, session: requests.Session | None = None) -> requests.Session:
        """What msrest's requests transport calls before each request."""
        session = session or requests.Session()
        header = self.authorization()
        if header:
            session.headers["Authorization"] = header
        else:
            session.headers.pop("Authorization", None)
        return session


class BearerPolicy(SansIOHTTPPolicy):  # type: ignore[misc]
    """Signs each connector request with the credentials' current token."""

    def __init__(self, credentials: ReusedToken) -> None:
        self._credentials = credentials

    def on_request(self, request: Request, **kwargs: Any) -> None:
        header = self._credentials.authorization()
        if header:
            request.http_request.headers["Authorization"] = header


class _Loaded(AsyncClientResponse):  # type: ignore[misc]
    """An aiohttp response read whole, as msrest's deserializers expect. It is its own
    `internal_response`: msrest's errors expose that one, and callers read `status_code` and
    `headers` from it as from a `requests` response."""

    def __init__(self, request: Any, response: aiohttp.ClientResponse, body: bytes) -> None:
        super().__init__(request, self)
        self.status_code = response.status
        self.headers = CIMultiDict(response.headers)
        self.reason = response.reason
        self._body = body

    def body(self) -> bytes:
        return self._body


class AiohttpSender(AsyncHTTPSender):  # type: ignore[misc]
    """msrest's last pipeline step, on one shared aiohttp session (see the module docstring).
    Transport failures become msrest's ClientRequestError, as with its own senders."""

    def __init__(self, session: Callable[[], aiohttp.ClientSession]) -> None:
        self._session = session

    async def __aenter__(self) -> AiohttpSender:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def build_context(self) -> None:
        return None

    async def send(self, request: Request, **config: Any) -> Response:
        http = request.http_request
        headers = {k: v for k, v in http.headers.items() if k.lower() != "content-length"}
        data = http.data.encode() if isinstance(http.data, str) else http.data
        try:
            async with self._session().request(
                http.method, http.url, headers=headers, data=data
            ) as response:
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ClientRequestError(f"Bot Connector: {type(exc).__name__}") from exc
        return Response(request, _Loaded(http, response, body))


class ReusedCredentials(ServiceClientCredentialsFactory):  # type: ignore[misc]
    """One credentials object per (app id, scope, login endpoint), reusing its token.

    botbuilder creates new credentials for every connector, each with a new MSAL app whose
    token cache starts empty, so every send would fetch a token.
    """

    def __init__(self, inner: ServiceClientCredentialsFactory, *, token_reuse: float) -> None:
        self._inner = inner
        self._token_reuse = token_reuse
        self._cache: dict[tuple[str, str, str, bool], ReusedToken] = {}

    async def is_valid_app_id(self, app_id: str) -> bool:
        return bool(await self._inner.is_valid_app_id(app_id))

    async def is_authentication_disabled(self) -> bool:
        return bool(await self._inner.is_authentication_disabled())

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> ReusedToken:
        key = (app_id or "", oauth_scope or "", login_endpoint or "", bool(validate_authority))
        if key not in self._cache:
            inner = await self._inner.create_credentials(
                app_id, oauth_scope, login_endpoint, validate_authority
            )
            self._cache[key] = ReusedToken(inner, self._token_reuse)
        return self._cache[key]


class ReusingAuthentication(ConfigurationBotFrameworkAuthentication):  # type: ignore[misc]
    """Bot Framework authentication whose connector factories hand out cached clients.

    A ConnectorClient holds no state of a turn: its credentials, its service URL and a
    `requests` session (whose connection pool is thread-safe; msrest sends from executor
    threads). So one client per (app id, service URL, audience) serves every turn and send.
    """

    def __init__(
        self, configuration: Any, *, credentials_factory: ServiceClientCredentialsFactory
    ) -> None:
        super().__init__(configuration, credentials_factory=credentials_factory)
        self._connectors: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
        self._token_clients: dict[str, UserTokenClient] = {}
        self._http: aiohttp.ClientSession | None = None

    def http(self) -> aiohttp.ClientSession:
        """The connector clients' HTTP session (made in the running loop on first use)."""
        if self._http is None or self._http.closed:
            timeout = aiohttp.ClientTimeout(total=CONNECTOR_TIMEOUT_SECONDS)
            self._http = aiohttp.ClientSession(timeout=timeout)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def authenticate_request(
        self, activity: Activity, auth_header: str | None
    ) -> AuthenticateRequestResult:
        result = await super().authenticate_request(activity, auth_header)
        if result.connector_factory is not None and result.claims_identity is not None:
            app_id = _app_id(result.claims_identity)
            result.connector_factory = _Reusing(self, result.connector_factory, app_id)
        return result

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        inner = super().create_connector_factory(claims_identity)
        return _Reusing(self, inner, _app_id(claims_identity))

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        # CloudAdapter builds one for every turn; this bot never uses it (no OAuth prompts).
        app_id = _app_id(claims_identity)
        if app_id not in self._token_clients:
            client = await super().create_user_token_client(claims_identity)
            self._token_clients[app_id] = client
        return self._token_clients[app_id]

    async def connector(
        self, factory: ConnectorFactory, app_id: str, service_url: str, audience: str | None
    ) -> Any:
        key = (app_id, service_url, audience or self.get_originating_audience() or "")
        client = self._connectors.get(key)
        if client is not None:
            self._connectors.move_to_end(key)
            return client
        client = self._configured(await factory.create(service_url, audience))
        self._connectors[key] = client
        while len(self._connectors) > CONNECTOR_CACHE_SIZE:
            self._connectors.popitem(last=False)
        return client

    def _configured(self, client: Any) -> Any:
        """No hidden retries (the outbox retries, honouring Retry-After), a timeout, no
        client-side validation, and the aiohttp transport for credentials of ours (others
        keep msrest's own)."""
        config = client.config
        # Newer generated Azure clients switch validation off too: msrest re-validates every
        # model it serializes (a sixth of a Teams send's CPU in bench/fanout.py), and the Bot
        # Connector validates anyway.
        serializer = WireSerializer(client._serialize.dependencies)
        serializer.client_side_validation = False
        client._serialize = client.conversations._serialize = serializer
        client.attachments._serialize = serializer
        config.retry_policy.policy = Retry(total=0, raise_on_status=False)
        config.connection.timeout = CONNECTOR_TIMEOUT_SECONDS
        if isinstance(config.credentials, ReusedToken):
            policies = [
                config.user_agent_policy,
                BearerPolicy(config.credentials),
                RawDeserializer(),
                config.http_logger_policy,
            ]
            config.pipeline = AsyncPipeline(policies, AiohttpSender(self.http))
        return client


class WireActivity(dict[str, Any]):
    """An activity already in the Bot Connector's JSON (what msrest would make of the model).

    msrest turns a model into JSON attribute by attribute, with a key transformer and a type
    lookup each: for one Adaptive Card activity about 0.3 ms of CPU, and as much again to
    build the model from the rendered card and the stored reference, which are JSON already.
    A broadcast sends the same card to thousands of people, so the outbox's sends post the
    card's JSON as the renderer made it, addressed with the stored reference (`addressed`).
    """


class WireSerializer(Serializer):  # type: ignore[misc]
    """msrest's serializer, passing a `WireActivity` body through as it is."""

    def body(self, data: Any, data_type: str, **kwargs: Any) -> Any:
        if isinstance(data, WireActivity):
            return dict(data)
        return super().body(data, data_type, **kwargs)


# TurnContext.apply_conversation_reference for an outgoing activity, on the JSON of both:
# activity field ← reference field.
_ADDRESS = (
    ("channelId", "channelId"),
    ("locale", "locale"),
    ("serviceUrl", "serviceUrl"),
    ("conversation", "conversation"),
    ("from", "bot"),
    ("recipient", "user"),
)


def addressed(activity: dict[str, Any], reference: dict[str, Any]) -> WireActivity:
    """The rendered activity addressed to a stored conversation reference (the SDK's
    `ConversationReference.serialize()`), as the SDK addresses a proactive message; a test
    holds it to msrest's serialization of the same models."""
    wire = WireActivity(activity)
    for field, source in _ADDRESS:
        value = reference.get(source)
        if value is None:
            wire.pop(field, None)
        else:
            wire[field] = value
    if reference.get("activityId"):
        wire["replyToId"] = reference["activityId"]
    return wire


class _Reusing(ConnectorFactory):  # type: ignore[misc]
    def __init__(self, auth: ReusingAuthentication, inner: ConnectorFactory, app_id: str) -> None:
        self._auth = auth
        self._inner = inner
        self._app_id = app_id

    async def create(self, service_url: str, audience: str | None = None) -> Any:
        return await self._auth.connector(self._inner, self._app_id, service_url, audience)


def _app_id(identity: ClaimsIdentity) -> str:
    """The bot's app id as botbuilder reads it from the claims (audience, or the emulator's
    appid claim)."""
    value = identity.get_claim_value(AuthenticationConstants.AUDIENCE_CLAIM)
    if value is None:
        value = identity.get_claim_value(AuthenticationConstants.APP_ID_CLAIM)
    return str(value or "")
