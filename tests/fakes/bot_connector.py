"""A fake Bot Connector API (the Teams `serviceUrl`) and token issuer, as real HTTP servers.

Speaks the wire format botbuilder's ConnectorClient uses: `/v3/conversations/{id}/activities`
(send), `…/activities/{activityId}` (POST reply, PUT update), `…/members/{memberId}`
(TeamsInfo.get_member), and attachment downloads. Failures can be scripted (429 with
Retry-After, 5xx, 403 MessageWritesBlocked) for the next calls.

The outbound token is fetched by MSAL (inside botbuilder's MicrosoftAppCredentials) with
blocking `requests`, and MSAL accepts only https authorities; so the token issuer is served
over TLS with a test CA (the test points REQUESTS_CA_BUNDLE at it) under `/adfs`: for an ADFS
authority MSAL skips Microsoft's instance discovery, which would leave the machine.
Everything runs in its own thread and event loop, so a blocking call from the code under test
can never deadlock the server.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import itertools
import ssl
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

_ids = itertools.count(1_712_000_000_001)


@dataclass(frozen=True)
class Failure:
    status: int
    retry_after: float | None = None
    code: str = "ServiceError"


@dataclass
class FakeBotConnector:
    app_id: str
    app_password: str
    require_auth: bool = True
    token_lifetime: int = 3600  # expires_in of issued tokens; MSAL renews below 300
    # member id → TeamsChannelAccount JSON (what GET …/members/{id} answers)
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    # path name → bytes, for attachment contentUrl (token) and file downloadUrl (no token)
    files: dict[str, bytes] = field(default_factory=dict)
    activities: list[dict[str, Any]] = field(default_factory=list)
    failures: deque[Failure] = field(default_factory=deque)
    refused: list[int] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    member_lookups: list[str] = field(default_factory=list)
    downloads: list[tuple[str, str | None]] = field(default_factory=list)
    issued: set[str] = field(default_factory=set)
    url: str = ""
    login_url: str = ""
    ca_file: str = ""

    # -- scripting -------------------------------------------------------------------------

    def fail_next(
        self, status: int, *, times: int = 1, retry_after: float | None = None, code: str = ""
    ) -> None:
        """The next `times` activity sends/updates answer `status` instead."""
        for _ in range(times):
            self.failures.append(Failure(status, retry_after, code or _default_code(status)))

    def sent(self, conversation_id: str | None = None) -> list[dict[str, Any]]:
        return [
            a
            for a in self.activities
            if conversation_id is None or a["_conversation"] == conversation_id
        ]

    # -- handlers --------------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        if not self.require_auth:
            return True
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme == "Bearer" and token in self.issued

    def _refuse(self, status: int, code: str, retry_after: float | None = None) -> web.Response:
        self.refused.append(status)
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        body = {"error": {"code": code, "message": f"fake connector: {code}"}}
        return web.json_response(body, status=status, headers=headers)

    async def _activity(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._refuse(401, "Unauthorized")
        if self.failures:
            failure = self.failures.popleft()
            return self._refuse(failure.status, failure.code, failure.retry_after)
        activity = await request.json()
        conversation = request.match_info["conversation"]
        target = request.match_info.get("activity")
        if request.method == "PUT":
            op, new_id = "update", target
        else:
            op, new_id = ("reply" if target else "send"), str(next(_ids))
        activity.update({"_op": op, "_conversation": conversation, "_id": new_id})
        self.activities.append(activity)
        return web.json_response({"id": new_id}, status=200 if op == "update" else 201)

    async def _member(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._refuse(401, "Unauthorized")
        member_id = request.match_info["member"]
        self.member_lookups.append(member_id)
        member = self.members.get(member_id)
        if member is None:
            return self._refuse(404, "MemberNotFoundInConversation")
        return web.json_response(member)

    async def _attachment(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.downloads.append((name, request.headers.get("Authorization")))
        if not self._authorized(request):
            return self._refuse(401, "Unauthorized")
        return self._file(name)

    async def _download(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.downloads.append((name, request.headers.get("Authorization")))
        return self._file(name)

    def _file(self, name: str) -> web.Response:
        if name not in self.files:
            return self._refuse(404, "NotFound")
        return web.Response(body=self.files[name], content_type="image/png")

    # -- token issuer (MSAL client credentials against an ADFS-style authority) ------------

    async def _openid(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.login_url,
                "authorization_endpoint": self.login_url + "/oauth2/authorize",
                "token_endpoint": self.login_url + "/oauth2/token",
            }
        )

    async def _token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.token_requests.append({k: str(v) for k, v in form.items() if k != "client_secret"})
        ok = (
            form.get("grant_type") == "client_credentials"
            and form.get("client_id") == self.app_id
            and form.get("client_secret") == self.app_password
        )
        if not ok:
            return web.json_response({"error": "invalid_client"}, status=401)
        token = f"fake-token-{next(_ids)}"
        self.issued.add(token)
        return web.json_response(
            {"token_type": "Bearer", "expires_in": self.token_lifetime, "access_token": token}
        )

    @web.middleware
    async def _close_connections(self, request: web.Request, handler: Any) -> web.StreamResponse:
        # MSAL (requests) keeps connections to the login alive in pools that outlive a test:
        # closing those after every response lets the server stop cleanly. The connector's
        # callers (aiohttp sessions that the adapters close) keep theirs, as in production.
        response: web.StreamResponse = await handler(request)
        if request.path.startswith("/adfs/"):
            response.force_close()
        return response

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._close_connections])
        conv = "/v3/conversations/{conversation}"
        app.router.add_post(conv + "/activities", self._activity)
        app.router.add_post(conv + "/activities/{activity}", self._activity)
        app.router.add_put(conv + "/activities/{activity}", self._activity)
        app.router.add_get(conv + "/members/{member}", self._member)
        app.router.add_get("/v3/attachments/{name}/views/original", self._attachment)
        app.router.add_get("/files/{name}", self._download)
        app.router.add_get("/adfs/.well-known/openid-configuration", self._openid)
        app.router.add_post("/adfs/oauth2/token", self._token)
        return app

    # -- running ---------------------------------------------------------------------------

    @contextmanager
    def serve(self, tmp: Path) -> Iterator[FakeBotConnector]:
        """Run on 127.0.0.1: http for the connector, https (test CA in tmp) for the login."""
        server_ctx, self.ca_file = _tls(tmp)
        loop = asyncio.new_event_loop()
        runner = web.AppRunner(self._app(), access_log=None)
        ready = threading.Event()
        ports: list[int] = []

        async def start() -> None:
            await runner.setup()
            for ctx in (None, server_ctx):
                site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
                await site.start()
                ports.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(start())
            ready.set()
            loop.run_forever()
            loop.close()

        thread = threading.Thread(target=run, name="fake-bot-connector", daemon=True)
        thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake Bot Connector did not start")
        self.url = f"http://127.0.0.1:{ports[0]}/"
        self.login_url = f"https://127.0.0.1:{ports[1]}/adfs"
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)


def _default_code(status: int) -> str:
    return {
        403: "MessageWritesBlocked",
        404: "ConversationNotFound",
        412: "PreconditionFailed",
        429: "TooManyRequests",
    }.get(status, "ServiceError")


def _tls(tmp: Path) -> tuple[ssl.SSLContext, str]:
    """A test CA and a certificate for 127.0.0.1 signed by it: (server context, CA file)."""
    now = dt.datetime.now(dt.UTC)

    def make(
        subject: str, key: rsa.RSAPrivateKey, issuer: x509.Name | None, signer: Any, ca: bool
    ) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer or name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_cert = make("achterban test CA", ca_key, None, ca_key, True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = make("127.0.0.1", key, ca_cert.subject, ca_key, False)
    pem = serialization.Encoding.PEM
    (tmp / "ca.pem").write_bytes(ca_cert.public_bytes(pem))
    (tmp / "server.pem").write_bytes(cert.public_bytes(pem))
    (tmp / "server.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(tmp / "server.pem", tmp / "server.key")
    return ctx, str(tmp / "ca.pem")
