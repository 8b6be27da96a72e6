"""botbuilder's connector plumbing for the Teams adapter, set up once instead of per message.

CloudAdapter builds, for every proactive message and every inbound turn, a new
ConnectorClient and a new user-token client, each with a msrest configuration whose retry
policy alone costs milliseconds of CPU to build, a new `requests` session (a new connection)
and credentials that ask MSAL for the token again. Measured with bench/fanout.py that capped a
worker at about 50 Teams messages/s on loopback; see docs/teams.md for the figures.

Here: one credentials object per (app id, scope, login endpoint), whose token is reused for a
short while; one connector client per (app id, service URL, audience), configured once (no
hidden retries, a timeout); one user-token client per app id.

The connector's requests go out through aiohttp on the event loop, signed with the reused
token (adapters/teams_transport.py), and outgoing activities are posted as the JSON the
renderer made (adapters/teams_wire.py).

Part of the Teams adapter: with adapters/teams.py, teams_transport.py and teams_wire.py the
only modules that import botbuilder or msrest.
"""

from __future__ import annotations

from collections import OrderedDict
from types import SimpleNamespace
from typing import Any

import aiohttp
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
from msrest.pipeline import AsyncPipeline
from msrest.pipeline.universal import RawDeserializer
from urllib3.util import Retry

from adapters.teams_transport import TOKEN_REUSE_SECONDS, AiohttpSender, BearerPolicy, ReusedToken
from adapters.teams_wire import WireActivity, WireSerializer, addressed
from bot.config import Settings

__all__ = [
    "TOKEN_REUSE_SECONDS",
    "ReusedCredentials",
    "ReusedToken",
    "ReusingAuthentication",
    "WireActivity",
    "WireSerializer",
    "addressed",
    "authentication",
    "bot_configuration",
]

CONNECTOR_TIMEOUT_SECONDS = 30
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
        self._factories: dict[str, _Reusing] = {}
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
        """One factory per app id, kept: botbuilder's depends on nothing else of the claims,
        and the adapter asks for one before every send."""
        app_id = _app_id(claims_identity)
        factory = self._factories.get(app_id)
        if factory is None:
            inner = super().create_connector_factory(claims_identity)
            factory = self._factories[app_id] = _Reusing(self, inner, app_id)
        return factory

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
