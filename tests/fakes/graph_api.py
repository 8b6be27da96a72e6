"""A fake Microsoft Graph (the parts Teams reach uses) and its token endpoint, as a real
aiohttp server on loopback.

- POST /{tenant}/oauth2/v2.0/token — client credentials (form), scope
  https://graph.microsoft.com/.default; answers {"token_type", "expires_in", "access_token"}.
- GET /v1.0/users/{id | userPrincipalName}?$select=id — 404 {"error": {"code":
  "Request_ResourceNotFound"}} for strangers; GET /v1.0/users?$filter=mail eq '…'.
- POST /v1.0/users/{id}/teamwork/installedApps with {"teamsApp@odata.bind":
  "…/appCatalogs/teamsApps/{catalog id}"} — 201 with no body; 409 when installed already.
- GET /v1.0/users/{id}/teamwork/installedApps?$expand=teamsApp&$filter=teamsApp/id eq '…'
  — {"value": [userScopeTeamsAppInstallation]}.
- GET /v1.0/users/{id}/teamwork/installedApps/{installation id}/chat — the 1:1 chat.

Shapes follow the Graph v1.0 reference pages of those methods. Every call needs a token this
fake issued; failures can be scripted (`fail_next(status, retry_after=…)`).
"""

from __future__ import annotations

import base64
import itertools
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

_ids = itertools.count(1)
SCOPE = "https://graph.microsoft.com/.default"


@dataclass
class GraphUser:
    id: str
    upn: str
    mail: str


@dataclass
class FakeGraph:
    tenant_id: str
    client_id: str
    client_secret: str
    catalog_app_id: str
    users: dict[str, GraphUser] = field(default_factory=dict)
    installed: dict[str, str] = field(default_factory=dict)  # user id → installation id
    calls: list[tuple[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    issued: set[str] = field(default_factory=set)
    failures: deque[tuple[int, float | None]] = field(default_factory=deque)
    server: TestServer | None = None

    async def start(self) -> FakeGraph:
        app = web.Application()
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        app.router.add_route("*", "/v1.0/{path:.*}", self._graph)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return self

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}"

    @property
    def api_url(self) -> str:
        return self.url + "/v1.0"

    def add_user(self, user_id: str, upn: str, mail: str | None = None) -> GraphUser:
        self.users[user_id] = user = GraphUser(user_id, upn, mail or upn)
        return user

    def fail_next(self, status: int, *, retry_after: float | None = None) -> None:
        self.failures.append((status, retry_after))

    def chat_of(self, user_id: str) -> str:
        """The 1:1 chat id of the user with the bot, shaped like Teams' own."""
        return f"19:{user_id}_{self.client_id}@unq.gbl.spaces"

    # -- token endpoint ------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.token_requests.append({k: v for k, v in form.items() if k != "client_secret"})
        ok = (
            request.match_info["tenant"] == self.tenant_id
            and form.get("grant_type") == "client_credentials"
            and form.get("client_id") == self.client_id
            and form.get("client_secret") == self.client_secret
            and form.get("scope") == SCOPE
        )
        if not ok:
            body = {"error": "invalid_client", "error_description": "AADSTS7000215"}
            return web.json_response(body, status=401)
        token = base64.urlsafe_b64encode(f"graph-{next(_ids)}".encode()).decode()
        self.issued.add(token)
        return web.json_response(
            {"token_type": "Bearer", "expires_in": 3599, "access_token": token}
        )

    # -- Graph ---------------------------------------------------------------------------

    def _fail(self, status: int, code: str, retry_after: float | None = None) -> web.Response:
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        body = {"error": {"code": code, "message": f"fake graph: {code}"}}
        return web.json_response(body, status=status, headers=headers)

    async def _graph(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        self.calls.append((request.method, path))
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or token not in self.issued:
            return self._fail(401, "InvalidAuthenticationToken")
        if self.failures:
            status, retry_after = self.failures.popleft()
            code = {403: "Forbidden", 429: "TooManyRequests"}.get(status, "ServiceUnavailable")
            return self._fail(status, code, retry_after)
        if m := re.fullmatch(r"users/([^/]+)/teamwork/installedApps/([^/]+)/chat", path):
            return self._chat(m.group(1), m.group(2))
        if m := re.fullmatch(r"users/([^/]+)/teamwork/installedApps", path):
            if request.method == "POST":
                return self._install(m.group(1), await request.json())
            return self._installations(m.group(1), request.query.get("$filter", ""))
        if m := re.fullmatch(r"users/([^/]+)", path):
            user = self._user(m.group(1))
            if user is None:
                return self._fail(404, "Request_ResourceNotFound")
            return web.json_response({"id": user.id})
        if path == "users":
            wanted = re.fullmatch(r"mail eq '(.*)'", request.query.get("$filter", ""))
            mail = wanted.group(1).replace("''", "'").lower() if wanted else None
            found = [{"id": u.id} for u in self.users.values() if u.mail.lower() == mail]
            return web.json_response({"value": found})
        return self._fail(400, "BadRequest")

    def _user(self, key: str) -> GraphUser | None:
        if key in self.users:
            return self.users[key]
        return next((u for u in self.users.values() if u.upn.lower() == key.lower()), None)

    def _install(self, user_id: str, body: dict[str, Any]) -> web.Response:
        if user_id not in self.users:
            return self._fail(404, "NotFound")
        expected = f"/appCatalogs/teamsApps/{self.catalog_app_id}"
        if not str(body.get("teamsApp@odata.bind", "")).endswith(expected):
            return self._fail(400, "BadRequest")
        if user_id in self.installed:
            return self._fail(409, "Conflict")
        raw = f"{user_id}##{self.catalog_app_id}".encode()
        self.installed[user_id] = base64.b64encode(raw).decode()
        return web.Response(status=201)

    def _installations(self, user_id: str, query: str) -> web.Response:
        if user_id not in self.users:
            return self._fail(404, "NotFound")
        wanted = re.fullmatch(r"teamsApp/id eq '(.*)'", query)
        value = []
        if user_id in self.installed and (wanted is None or wanted.group(1) == self.catalog_app_id):
            value.append(
                {
                    "id": self.installed[user_id],
                    "teamsApp": {
                        "id": self.catalog_app_id,
                        "externalId": "f31b1263-ba99-435a-a679-911d24850d7c",
                        "displayName": "achterban",
                        "distributionMethod": "organization",
                    },
                }
            )
        return web.json_response({"value": value})

    def _chat(self, user_id: str, installation_id: str) -> web.Response:
        if self.installed.get(user_id) != installation_id:
            return self._fail(404, "NotFound")
        return web.json_response(
            {
                "id": self.chat_of(user_id),
                "topic": None,
                "createdDateTime": "2025-03-04T10:00:00.000Z",
                "lastUpdatedDateTime": "2025-03-04T10:00:00.000Z",
                "chatType": "oneOnOne",
                "webUrl": f"https://teams.microsoft.com/l/chat/{self.chat_of(user_id)}/0",
                "tenantId": self.tenant_id,
            }
        )
