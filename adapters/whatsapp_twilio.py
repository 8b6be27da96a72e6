"""Twilio's REST API as the WhatsApp adapter uses it: the async HTTP client with what the SDK
leaves out (base URL, timeout, Retry-After, JSON bodies), and Twilio's errors described
without message bodies or numbers. No message logic.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp
from twilio.base.exceptions import TwilioException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response as TwilioResponse

from adapters.base import MAX_RETRY_AFTER_SECONDS, retry_after_value

CHANNEL = "whatsapp"
PREFIX = "whatsapp:"
API_BASE = "https://api.twilio.com"
REQUEST_TIMEOUT = 30.0
FORM = "application/x-www-form-urlencoded"
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")  # ASCII digits only
# Twilio error codes that come back synchronously and can never succeed on retry.
KNOWN_ERRORS = {
    63016: "outside the WhatsApp 24-hour window (a template is required)",
    21211: "invalid 'To' number",
    21610: "recipient unsubscribed (replied STOP)",
    20003: "authentication failed (TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN)",
}


class RateLimited(Exception):
    """Twilio answered 429; raised by the HTTP client because the SDK drops the headers."""

    def __init__(self, retry_after: float | None) -> None:
        super().__init__("rate limited")
        self.retry_after = retry_after


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    seconds = retry_after_value(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    wait = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(0.0, wait), float(MAX_RETRY_AFTER_SECONDS))


class GatewayHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """twilio's async HTTP client, with what the SDK leaves out: a base-URL override
    (ACHTERBAN_TWILIO_API_URL, for gateways and the tests' fake API), a default timeout (the
    SDK passes timeout=None, which aiohttp takes as "wait forever"), Retry-After, and JSON
    bodies for the Content API.

    `request` sends on the SDK's session itself rather than through
    AsyncTwilioHttpClient.request, for the delivery worker's CPU (bench/fanout.py, issue 15):
    that one formats its INFO log lines (response headers included) whatever the log level,
    copies every request and response for its tests, and hands aiohttp the form as a dict,
    which aiohttp turns into a FormData with a multipart writer before it encodes it as the
    same urlencoded bytes this method makes directly. What goes on the wire is unchanged.
    """

    def __init__(self, base_url: str | None, *, timeout: float = REQUEST_TIMEOUT) -> None:
        super().__init__(pool_connections=True, timeout=timeout)
        self.base_url = base_url.rstrip("/") if base_url else None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    def rebase(self, url: str) -> str:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if not self.base_url or not (host == "twilio.com" or host.endswith(".twilio.com")):
            return url
        base = urlsplit(self.base_url)
        path = base.path.rstrip("/") + parts.path
        return urlunsplit((base.scheme, base.netloc, path, parts.query, parts.fragment))

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (the SDK's signature)
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        if timeout is not None and timeout <= 0:
            raise ValueError(timeout)
        headers = dict(headers or {})
        if auth is not None:
            # As a header rather than aiohttp's deprecated auth=; the request log leaves
            # Authorization headers out.
            headers["Authorization"] = basic_auth(*auth)
        body: bytes | None = None
        if data is not None:
            if headers.get("Content-Type") == "application/json":
                # The Content API takes JSON; the SDK's sync client encodes it, its async
                # client hands the dict to aiohttp, which would send it form-encoded.
                body = json.dumps(data).encode()
            else:
                # What aiohttp makes of a dict (FormData, urlencoded): lists as repeated keys.
                body = urlencode(list(data.items()), doseq=True).encode()
                headers.setdefault("Content-Type", FORM)
        verbose = self.logger.isEnabledFor(logging.INFO)
        if verbose:
            self.log_request({"method": method.upper(), "url": url, "params": params,
                              "headers": headers})  # fmt: skip
        async with self.session.request(
            method.upper(),
            self.rebase(url),
            params=params,
            data=body,
            headers=headers,
            timeout=self._timeout(timeout or self.timeout),
            allow_redirects=allow_redirects,
        ) as response:
            text = await response.text()
        if verbose:
            self.log_response(response.status, response)
        if response.status == 429:
            raise RateLimited(retry_after_seconds(response.headers.get("Retry-After")))
        return TwilioResponse(response.status, text, response.headers)

    def _timeout(self, seconds: float | None) -> aiohttp.ClientTimeout:
        key = seconds or 0.0
        found = self._timeouts.get(key)
        if found is None:
            found = self._timeouts[key] = aiohttp.ClientTimeout(total=seconds)
        return found


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def describe(exc: TwilioException) -> tuple[str, bool]:
    """(reason, permanent) for an error answer from Twilio; no message body, no number."""
    status = int(getattr(exc, "status", 0) or 0)
    code = getattr(exc, "code", None)
    if status >= 500 or status == 0:
        return f"Twilio HTTP {status or 'error'} (code {code})", False
    what = KNOWN_ERRORS.get(code, "refused") if isinstance(code, int) else "refused"
    return f"Twilio error {code} (HTTP {status}): {what}", True
