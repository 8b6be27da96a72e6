"""A fake Twilio REST API: a real aiohttp server on loopback speaking Twilio's wire format.

- POST /2010-04-01/Accounts/{AccountSid}/Messages.json — form-encoded, HTTP basic auth with
  (AccountSid, AuthToken), answers 201 with a Message resource (sid SM…, status queued), or
  a scripted failure: 429 with Retry-After, 5xx, or 4xx with Twilio's error JSON
  ({"code", "message", "more_info", "status"}).
- POST /v1/Content (content.twilio.com, the Content API) — JSON, basic auth, answers 201 with
  a Content resource (sid HX…); the contents are kept in `contents`.
- GET /2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media/{MediaSid} — basic auth,
  answers 307 to a pre-signed URL on a second server, the "CDN", which needs no credentials
  (as media.twiliocdn.com does); that server is addressed as `localhost`, so it is another
  host than the API's 127.0.0.1.

And the other direction: the forms Twilio posts to our webhooks (`inbound_form`,
`status_form`), shaped like the real ones, with the signature twilio's own RequestValidator
computes (`signature_headers`).
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections import deque
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from twilio.request_validator import RequestValidator

from storage.models import utcnow
from tests.adapters.payloads import load

ERROR_MESSAGES = {
    63016: "Failed to send freeform message because you are outside the allowed window. "
    "If you are using WhatsApp, please use a Message Template.",
    21211: "The 'To' number is not a valid phone number.",
    21610: "Attempt to send to unsubscribed recipient",
    20003: "Authenticate",
}


@dataclass
class Failure:
    status: int  # 0: never answer (a hanging connection)
    code: int | None = None
    retry_after: str | None = None


@dataclass
class Media:
    body: bytes
    content_type: str
    redirect_to: str | None = None  # where the API redirects; default: our CDN


@dataclass
class FakeTwilio:
    account_sid: str
    auth_token: str
    sent: list[dict[str, str]] = field(default_factory=list)  # accepted messages (forms)
    sent_sids: list[str] = field(default_factory=list)  # their Message SIDs
    attempts: int = 0  # every Messages.json POST, failed or not
    failures: deque[Failure] = field(default_factory=deque)
    media: dict[str, Media] = field(default_factory=dict)
    cdn_files: dict[str, Media] = field(default_factory=dict)
    media_auth: list[str | None] = field(default_factory=list)  # Authorization at the API
    cdn_auth: list[str | None] = field(default_factory=list)  # Authorization at the CDN
    contents: dict[str, dict[str, Any]] = field(default_factory=dict)  # Content API, by SID
    api: TestServer | None = None
    cdn: TestServer | None = None

    async def start(self) -> FakeTwilio:
        api = web.Application()
        api.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._create_message)
        api.router.add_post("/v1/Content", self._create_content)
        api.router.add_get(
            "/2010-04-01/Accounts/{sid}/Messages/{msid}/Media/{media_sid}", self._media
        )
        cdn = web.Application()
        cdn.router.add_get("/{sid}/{key}", self._cdn)
        self.api = TestServer(api, host="127.0.0.1")
        self.cdn = TestServer(cdn, host="127.0.0.1")
        await self.api.start_server()
        await self.cdn.start_server()
        return self

    async def close(self) -> None:
        for server in (self.api, self.cdn):
            if server is not None:
                await server.close()

    @property
    def url(self) -> str:
        """The API's base URL (ACHTERBAN_TWILIO_API_URL)."""
        assert self.api is not None
        return f"http://127.0.0.1:{self.api.port}"

    @property
    def cdn_url(self) -> str:
        assert self.cdn is not None
        return f"http://localhost:{self.cdn.port}"

    def fail_next(
        self, status: int, *, code: int | None = None, retry_after: str | None = None
    ) -> None:
        """The next Messages.json POST answers this failure instead of accepting; status 0
        never answers."""
        self.failures.append(Failure(status, code, retry_after))

    def add_media(
        self, body: bytes, content_type: str = "image/jpeg", *, redirect_to: str | None = None
    ) -> str:
        """Store a file; returns its MediaUrl as an inbound webhook would carry it."""
        msid, media_sid = "MM" + secrets.token_hex(16), "ME" + secrets.token_hex(16)
        self.media[media_sid] = Media(body, content_type, redirect_to)
        return (
            f"{self.url}/2010-04-01/Accounts/{self.account_sid}/Messages/{msid}/Media/{media_sid}"
        )

    def _authorised(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}" and (
            request.match_info.get("sid", self.account_sid) == self.account_sid
        )

    async def _create_content(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._error(401, 20003)
        if request.content_type != "application/json":
            return self._error(400, 20001)
        body = await request.json()
        types = {k: v for k, v in (body.get("types") or {}).items() if v is not None}
        if not body.get("friendly_name") or not types:
            return self._error(400, 20001)
        sid = "HX" + secrets.token_hex(16)
        now = utcnow().isoformat()
        self.contents[sid] = {
            "sid": sid,
            "account_sid": self.account_sid,
            "friendly_name": body["friendly_name"],
            "language": body.get("language") or "en",
            "variables": body.get("variables") or {},
            "types": types,
            "date_created": now,
            "date_updated": now,
            "url": f"https://content.twilio.com/v1/Content/{sid}",
            "links": {},
        }
        return web.json_response(self.contents[sid], status=201)

    def _error(self, status: int, code: int | None) -> web.Response:
        body: dict[str, Any] = {
            "code": code or status,
            "message": ERROR_MESSAGES.get(code or 0, "Error"),
            "more_info": f"https://www.twilio.com/docs/errors/{code or status}",
            "status": status,
        }
        return web.json_response(body, status=status)

    async def _create_message(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if not self._authorised(request):
            return self._error(401, 20003)
        if request.content_type != "application/x-www-form-urlencoded":
            return self._error(400, 21609)
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        if self.failures:
            failure = self.failures.popleft()
            if failure.status == 0:
                await asyncio.sleep(3600)  # the client's timeout ends this
            if failure.status == 429:
                headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
                return web.json_response(
                    {"code": 20429, "message": "Too Many Requests", "status": 429},
                    status=429,
                    headers=headers,
                )
            return self._error(failure.status, failure.code)
        if not form.get("To") or not form.get("From"):
            return self._error(400, 21604)
        if not form.get("Body") and not form.get("ContentSid") and not form.get("MediaUrl"):
            return self._error(400, 21619)
        sid = "SM" + secrets.token_hex(16)
        self.sent.append(form)
        self.sent_sids.append(sid)
        now = format_datetime(utcnow(), usegmt=True)
        base = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}"
        return web.json_response(
            {
                "account_sid": self.account_sid,
                "api_version": "2010-04-01",
                "body": form.get("Body", ""),
                "date_created": now,
                "date_sent": None,
                "date_updated": now,
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": form["From"],
                "messaging_service_sid": None,
                "num_media": "0",
                "num_segments": "1",
                "price": None,
                "price_unit": "USD",
                "sid": sid,
                "status": "queued",
                "subresource_uris": {"media": f"{base}/Media.json"},
                "to": form["To"],
                "uri": f"{base}.json",
            },
            status=201,
        )

    async def _media(self, request: web.Request) -> web.Response:
        self.media_auth.append(request.headers.get("Authorization"))
        if not self._authorised(request):
            return self._error(401, 20003)
        media = self.media.get(request.match_info["media_sid"])
        if media is None:
            return self._error(404, 20404)
        key = secrets.token_hex(16)
        self.cdn_files[key] = media
        location = media.redirect_to or (
            f"{self.cdn_url}/{self.account_sid}/{key}?Expires=1700000000&Signature=abc"
        )
        raise web.HTTPTemporaryRedirect(location)

    async def _cdn(self, request: web.Request) -> web.Response:
        self.cdn_auth.append(request.headers.get("Authorization"))
        media = self.cdn_files.get(request.match_info["key"])
        if media is None:
            raise web.HTTPNotFound()
        return web.Response(body=media.body, content_type=media.content_type)


def inbound_form(
    body: str, *, phone: str, account_sid: str, to: str, message_sid: str | None = None,
    profile_name: str = "Emp Nul", **extra: str,
) -> dict[str, str]:  # fmt: skip
    """What Twilio posts for an inbound WhatsApp message from `phone` (E.164) to `to`: the
    recorded payloads/whatsapp/inbound_text.json with this message's fields."""
    message_sid = message_sid or "SM" + secrets.token_hex(16)
    return (
        load(
            "whatsapp",
            "inbound_text",
            SmsMessageSid=message_sid,
            SmsSid=message_sid,
            MessageSid=message_sid,
            ProfileName=profile_name,
            WaId=phone.removeprefix("+"),
            Body=body,
            To=to,
            AccountSid=account_sid,
            From="whatsapp:" + phone,
        )
        | extra
    )


def status_form(
    message_sid: str, status: str, *, account_sid: str, to: str, sender: str, **extra: str
) -> dict[str, str]:
    """What Twilio posts to a message's StatusCallback: the recorded
    payloads/whatsapp/status_delivered.json with this message's sid and status."""
    return (
        load(
            "whatsapp",
            "status_delivered",
            MessageStatus=status,
            SmsSid=message_sid,
            SmsStatus=status,
            To=to,
            From=sender,
            MessageSid=message_sid,
            AccountSid=account_sid,
        )
        | extra
    )


def signature_headers(token: str, url: str, params: dict[str, str]) -> dict[str, str]:
    """X-Twilio-Signature for a form posted to `url` (the URL Twilio was configured with)."""
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}
