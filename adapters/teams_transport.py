"""The Bot Connector's transport for the Teams adapter: credentials that reuse MSAL's token,
the policy that signs each request with it, and an msrest pipeline sender on one aiohttp
session (adapters/teams_connector.py explains why each exists).

The connector's requests go out through aiohttp on the event loop (`AiohttpSender`) instead of
msrest's default, which runs `requests` in executor threads: those threads cost a Teams send
2–3 ms of CPU and hold the GIL the event loop needs. msrest still builds, serializes and
deserializes every request; only the transport differs. (msrest ships an aiohttp sender of
its own, but 0.7.1's sends neither the headers nor the body.)

Tokens stay correct: MSAL hands out a token only while it has more than five minutes left and
renews it otherwise, and a token is used here for at most four of those minutes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import requests
from msrest.exceptions import ClientRequestError
from msrest.pipeline import AsyncHTTPSender, Request, Response, SansIOHTTPPolicy
from msrest.universal_http.async_abc import AsyncClientResponse
from multidict import CIMultiDict

# MSAL never hands out a token with less than 5 minutes left, so one is used for at most 4
# of them, and MSAL is asked again (it renews in time) after 2.
TOKEN_USABLE_SECONDS = 240.0
TOKEN_REUSE_SECONDS = 120.0


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
        if self._younger_than(self._reuse) is not None:
            return  # before every send: no lock to take while the token is young
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
