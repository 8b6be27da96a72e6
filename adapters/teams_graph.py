"""Teams reach through Microsoft Graph: install the bot for a colleague who never wrote to it,
and build the conversation reference that lets it write first.

Without this, someone on Teams can only be reached after they opened the bot once (Teams then
sends the conversation reference); everybody else fails with "no Teams conversation
reference", which `broadcast status` counts as unreachable (`teams_not_installed`). With it
(ACHTERBAN_TEAMS_GRAPH_INSTALL=1), as Microsoft's Company Communicator does:

1. token: OAuth client credentials for Graph from the tenant's token endpoint
   (MicrosoftAppId / MicrosoftAppPassword / MicrosoftAppTenantId), cached until it expires;
2. `GET /users/{e-mail}` → the person's directory (AAD object) id — what our Teams accounts
   are keyed by;
3. `POST /users/{id}/teamwork/installedApps` with `teamsApp@odata.bind` = the app in the
   organisation's catalog (201; 409 when it is installed already);
4. `GET /users/{id}/teamwork/installedApps?$expand=teamsApp&$filter=teamsApp/id eq '…'` → the
   installation id; `GET …/installedApps/{installation}/chat` → the 1:1 chat id;
5. the conversation reference: that chat, the bot, the tenant and the Bot Connector's service
   URL. Teams also announces the installation to POST /api/messages (conversationUpdate),
   which stores the reference as for any installation.

Permissions (application, admin consent): TeamsAppInstallation.ReadWriteSelfForUser.All and
User.ReadBasic.All; the app must be published to the organisation's app catalog, and
ACHTERBAN_TEAMS_APP_CATALOG_ID is its catalog id (`GET /appCatalogs/teamsApps?$filter=
externalId eq '{manifest id}'`), not the manifest id. Directory lookups alone (`achterban
teams sync`) need only User.ReadBasic.All and no catalog id. Translation only: storing the
account and its reference is the caller's job (adapters/teams.py, bot/cli/teams.py).

Errors are DeliveryError, worded for storage/broadcasts.py UNREACHABLE_ERRORS: someone not in
the directory is "unreachable on Teams: not in the directory" (NotInDirectory, permanent);
throttling and Graph outages wait for Retry-After, for that person only.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.config import Settings
from bot.errors import ConfigError
from bot.messages import DeliveryError

GRAPH_API = "https://graph.microsoft.com/v1.0"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
LOGIN = "https://login.microsoftonline.com"
# The Bot Connector for Teams, global endpoint (Microsoft's docs for proactive messages).
TEAMS_SERVICE_URL = "https://smba.trafficmanager.net/teams/"
NOT_IN_DIRECTORY = "unreachable on Teams: not in the directory"
INSTALL_VISIBLE_SECONDS = 30.0  # Graph lists a new installation after a while
REQUEST_TIMEOUT = 30.0
TOKEN_MARGIN = 300.0  # renew a token this many seconds before it expires
PERMISSIONS = "TeamsAppInstallation.ReadWriteSelfForUser.All, User.ReadBasic.All"


@dataclass(frozen=True, slots=True)
class GraphConfig:
    tenant_id: str
    client_id: str  # the bot's app registration (MicrosoftAppId)
    client_secret: str
    catalog_app_id: str = ""  # empty: directory lookups only
    api_url: str = GRAPH_API
    login_url: str = LOGIN
    service_url: str = TEAMS_SERVICE_URL

    @classmethod
    def from_settings(cls, settings: Settings) -> GraphConfig | None:
        """None while ACHTERBAN_TEAMS_GRAPH_INSTALL is off; ConfigError when it is on and
        something it needs is missing."""
        if not settings.teams_graph_install:
            return None
        catalog = settings.teams_app_catalog_id
        missing = [] if catalog else ["ACHTERBAN_TEAMS_APP_CATALOG_ID"]
        return cls._build(settings, "ACHTERBAN_TEAMS_GRAPH_INSTALL", missing, str(catalog or ""))

    @classmethod
    def for_directory(cls, settings: Settings) -> GraphConfig:
        """For directory lookups alone (`achterban teams sync`), whether installation is on
        or not: the app's credentials, no catalog id. ConfigError names what is missing."""
        return cls._build(settings, "Looking people up in Microsoft Graph", [], "")

    @classmethod
    def _build(cls, settings: Settings, what: str, missing: list[str], catalog: str) -> GraphConfig:
        password = settings.microsoft_app_password
        credentials = (
            ("MicrosoftAppId", settings.microsoft_app_id),
            ("MicrosoftAppPassword", password),
            ("MicrosoftAppTenantId", settings.microsoft_app_tenant_id),
        )
        missing = [name for name, value in credentials if not value] + missing
        if missing or password is None:
            raise ConfigError(f"{what} needs " + ", ".join(missing))
        return cls(
            tenant_id=str(settings.microsoft_app_tenant_id),
            client_id=str(settings.microsoft_app_id),
            client_secret=password.get_secret_value(),
            catalog_app_id=catalog,
            api_url=(settings.graph_api_url or GRAPH_API).rstrip("/"),
            login_url=(settings.graph_login_url or LOGIN).rstrip("/"),
            service_url=settings.teams_service_url or TEAMS_SERVICE_URL,
        )


class NotInDirectory(DeliveryError):
    """The person is not in the organisation's directory (or not as this e-mail address)."""

    def __init__(self, detail: str = "") -> None:
        reason = f"{NOT_IN_DIRECTORY} ({detail})" if detail else NOT_IN_DIRECTORY
        super().__init__(reason, permanent=True)


@dataclass(frozen=True, slots=True)
class Reach:
    """A colleague reachable on Teams: their directory id and the reference to write to."""

    aad_id: str
    conversation_ref: dict[str, Any]


class TeamsInstaller:
    """Installs the bot for people through Graph. Failures are DeliveryError: permanent when
    retrying cannot help (not in the directory, permission missing), else with Retry-After."""

    def __init__(self, config: GraphConfig, *, timeout: float = REQUEST_TIMEOUT) -> None:
        self.config = config
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._token: tuple[str, float] | None = None  # (token, expires at, monotonic)
        self._token_lock = asyncio.Lock()

    async def reach(self, user: str) -> Reach:
        """Install the app for `user` (directory id or e-mail/UPN) and return where to write."""
        aad_id = user if _looks_like_id(user) else await self.directory_id(user)
        await self.install(aad_id)
        chat_id = await self.chat_id(aad_id, await self.installation_id(aad_id))
        return Reach(aad_id, self.reference(aad_id, chat_id))

    async def directory_id(self, email: str) -> str:
        """The directory id of the user whose UPN (or else mail) is `email`."""
        status, body = await self._call("GET", f"/users/{quote(email)}", params={"$select": "id"})
        if status == 200:
            return str(body["id"])
        if status != 404:
            raise self._error(status, body, "user lookup")
        # The UPN may differ from the address people use: look for it as `mail`.
        escaped = email.replace("'", "''")
        params = {"$filter": f"mail eq '{escaped}'", "$select": "id"}
        status, body = await self._call("GET", "/users", params=params)
        if status != 200:
            raise self._error(status, body, "user lookup")
        found = body.get("value") or []
        if len(found) != 1:
            raise NotInDirectory()
        return str(found[0]["id"])

    async def install(self, aad_id: str) -> bool:
        """Install the app in the user's personal scope; False when it already was."""
        if not self.config.catalog_app_id:
            raise ConfigError("installing the Teams app needs ACHTERBAN_TEAMS_APP_CATALOG_ID")
        bind = f"{self.config.api_url}/appCatalogs/teamsApps/{self.config.catalog_app_id}"
        status, body = await self._call(
            "POST", f"/users/{aad_id}/teamwork/installedApps", payload={"teamsApp@odata.bind": bind}
        )
        if status in (200, 201, 204):
            return True
        if status == 409:
            return False
        raise self._error(status, body, "app installation")

    async def installation_id(self, aad_id: str) -> str:
        params = {
            "$expand": "teamsApp",
            "$filter": f"teamsApp/id eq '{self.config.catalog_app_id}'",
        }
        path = f"/users/{aad_id}/teamwork/installedApps"
        status, body = await self._call("GET", path, params=params)
        if status != 200:
            raise self._error(status, body, "installed apps")
        found = body.get("value") or []
        if not found:
            # Just installed and not listed yet: Graph is eventually consistent.
            raise DeliveryError(
                "Teams app installation not visible yet",
                retry_after=INSTALL_VISIBLE_SECONDS,
                extra={"scope": "conversation"},
            )
        return str(found[0]["id"])

    async def chat_id(self, aad_id: str, installation_id: str) -> str:
        path = f"/users/{aad_id}/teamwork/installedApps/{quote(installation_id)}/chat"
        status, body = await self._call("GET", path)
        if status != 200:
            raise self._error(status, body, "chat")
        return str(body["id"])

    def reference(self, aad_id: str, chat_id: str) -> dict[str, Any]:
        """A conversation reference as botbuilder serialises it (ConversationReference)."""
        return {
            "bot": {"id": f"28:{self.config.client_id}"},
            "user": {"id": aad_id, "aadObjectId": aad_id},
            "conversation": {
                "id": chat_id,
                "conversationType": "personal",
                "tenantID": self.config.tenant_id,  # the SDK's key (ConversationAccount)
            },
            "channelId": "msteams",
            "serviceUrl": self.config.service_url,
        }

    # -- HTTP ----------------------------------------------------------------------------

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=self.timeout)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    async def token(self, *, renew: bool = False) -> str:
        async with self._token_lock:
            if self._token and not renew and self._token[1] > time.monotonic():
                return self._token[0]
            url = f"{self.config.login_url}/{self.config.tenant_id}/oauth2/v2.0/token"
            form = {
                "grant_type": "client_credentials",
                "client_id": self.config.client_id,
                "client_secret": self.config.client_secret,
                "scope": GRAPH_SCOPE,
            }
            try:
                async with self._http().post(url, data=form) as resp:
                    body = await resp.json(content_type=None)
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise DeliveryError(f"Graph token: {type(exc).__name__}") from exc
            if status != 200 or not isinstance(body, dict) or "access_token" not in body:
                error = body.get("error") if isinstance(body, dict) else None
                raise DeliveryError(
                    f"Graph token refused: HTTP {status} {error or ''}".strip(),
                    permanent=400 <= status < 500 and status != 429,
                )
            lifetime = float(body.get("expires_in", 3600))
            self._token = (str(body["access_token"]), time.monotonic() + lifetime - TOKEN_MARGIN)
            return self._token[0]

    async def _call(
        self, method: str, path: str, *, params: dict[str, str] | None = None, payload: Any = None
    ) -> tuple[int, dict[str, Any]]:
        """One Graph request; a 401 renews the token once (it may have been revoked)."""
        for attempt in range(2):
            token = await self.token(renew=attempt > 0)
            headers = {"Authorization": f"Bearer {token}"}
            try:
                async with self._http().request(
                    method, self.config.api_url + path, params=params, json=payload, headers=headers
                ) as resp:
                    text = await resp.text()
                    status, retry = resp.status, resp.headers.get("Retry-After")
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise DeliveryError(f"Graph unreachable: {type(exc).__name__}") from exc
            if status == 401 and attempt == 0:
                continue
            body = _json(text)
            if retry is not None:
                body["_retry_after"] = retry
            return status, body
        return status, body

    def _error(self, status: int, body: dict[str, Any], what: str) -> DeliveryError:
        error = body.get("error")
        code = str(error.get("code") or "") if isinstance(error, dict) else ""
        reason = f"Graph {what}: HTTP {status} {code}".strip()
        if status == 404:
            return NotInDirectory(what)
        if status == 403:
            reason = f"{reason} (needs admin consent for {PERMISSIONS})"
            return DeliveryError(reason, permanent=True)
        if status == 429 or status >= 500:
            retry = _seconds(body.get("_retry_after"))
            # Graph's limit is not the Bot Connector's: only this person's message waits.
            extra = {"scope": "conversation"}
            return DeliveryError(reason, retry_after=retry, extra=extra)
        return DeliveryError(reason, permanent=True)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _looks_like_id(user: str) -> bool:
    """A directory object id is a GUID; an e-mail or UPN has an @."""
    return "@" not in user and len(user) == 36 and user.count("-") == 4


def _json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _seconds(value: Any) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None
