"""WhatsApp through Twilio: `POST /twilio/whatsapp` (messages) and `POST /twilio/status`.

Translation only. Inbound: the X-Twilio-Signature is checked by twilio's RequestValidator
against ACHTERBAN_PUBLIC_URL + path, because Twilio signs the exact URL it called (scheme,
host, port) and behind a proxy our Host header says something else; then the form becomes an
Incoming, the engine handles it (deduplicated on MessageSid, as Twilio's retries carry no
timestamp) and Twilio gets an empty TwiML answer at once. Outbound: the delivery worker sends
through twilio's REST client with its async HTTP client — never TwiML — so replies survive
restarts and honour rate limits.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from aiohttp import web
from twilio.base.exceptions import TwilioException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from adapters.base import MAX_RETRY_AFTER_SECONDS, EngineApi, Mount, retry_after_value
from adapters.media import fetch_capped, origin
from bot.config import Settings
from bot.errors import ConfigError
from bot.media_links import media_url
from bot.messages import DeliveryError, Incoming, MediaRef, Outgoing, Profile, Recipient, SendResult
from bot.text import ascii_int, storable

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
PREFIX = "whatsapp:"
API_BASE = "https://api.twilio.com"
# Twilio's media URLs (api.twilio.com) answer 307 to its CDN; only these hosts are fetched.
CDN_HOSTS: tuple[str, ...] = ("media.twiliocdn.com",)
# Meta allows free text only within 24 h of the person's last message. The margin keeps a
# message that waits a little in Twilio's queue from arriving just after the window closed.
SESSION_WINDOW = timedelta(hours=24) - timedelta(minutes=5)
MAX_BODY = 1600  # Twilio refuses longer bodies (error 21617); longer texts go in parts
MAX_SUMMARY = 100
MAX_MEDIA = 10  # WhatsApp takes up to 10 media per message
# Quick replies in a session message (no Meta approval): at most 3 buttons, titles of at most
# 20 characters; button ids and the body are content variables, which Twilio caps at 256.
QUICK_REPLY_MAX_BUTTONS = 3
QUICK_REPLY_MAX_TITLE = 20
CONTENT_VARIABLE_MAX = 256
REQUEST_TIMEOUT = 30.0
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")  # ASCII digits only
FORM = "application/x-www-form-urlencoded"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
# Twilio error codes that come back synchronously and can never succeed on retry.
KNOWN_ERRORS = {
    63016: "outside the WhatsApp 24-hour window (a template is required)",
    21211: "invalid 'To' number",
    21610: "recipient unsubscribed (replied STOP)",
    20003: "authentication failed (TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN)",
}


class MalformedRequest(ValueError):
    """A signed request whose content we cannot use (400)."""


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
    bodies for the Content API."""

    def __init__(self, base_url: str | None, *, timeout: float = REQUEST_TIMEOUT) -> None:
        super().__init__(pool_connections=True, timeout=timeout)
        self.base_url = base_url.rstrip("/") if base_url else None

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
        if auth is not None:
            # As a header rather than aiohttp's deprecated auth=; twilio's request log
            # leaves Authorization headers out.
            headers = {**(headers or {}), "Authorization": basic_auth(*auth)}
        body: object = data
        if data is not None and (headers or {}).get("Content-Type") == "application/json":
            # The Content API takes JSON; the SDK's sync client encodes it, its async client
            # hands the dict to aiohttp, which would send it form-encoded.
            body = json.dumps(data)
        response = await super().request(
            method,
            self.rebase(url),
            params=params,
            data=body,
            headers=headers,
            auth=None,
            timeout=timeout or self.timeout,
            allow_redirects=allow_redirects,
        )
        if response.status_code == 429:
            raise RateLimited(retry_after_seconds((response.headers or {}).get("Retry-After")))
        return response


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def e164(address: str) -> str:
    """'whatsapp:+31612345678' → '+31612345678'; MalformedRequest when it is no phone."""
    phone = address.removeprefix(PREFIX).strip()
    if not E164.match(phone):
        raise MalformedRequest("sender is not an E.164 phone number")
    return phone


def parse_incoming(form: Mapping[str, str]) -> Incoming | None:
    """A Twilio WhatsApp webhook form as an Incoming; None for what is not a WhatsApp
    message (an SMS number pointed at this URL), which is acknowledged and ignored."""
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or ""
    sender = form.get("From", "")
    if not sid or not sender:
        raise MalformedRequest("MessageSid and From are required")
    if not sender.startswith(PREFIX):
        return None
    phone = e164(sender)
    count = ascii_int(form.get("NumMedia") or "0")
    if count is None:
        raise MalformedRequest("NumMedia is not a number")
    attachments = []
    for i in range(max(0, min(count, 10))):  # WhatsApp sends at most 10 media per message
        url = form.get(f"MediaUrl{i}")
        if url:
            attachments.append(MediaRef(url=url, content_type=form.get(f"MediaContentType{i}", "")))
    name = (form.get("ProfileName") or "").strip() or None
    return Incoming(
        channel=CHANNEL,
        event_id=sid,
        account=phone,
        text=form.get("Body", ""),
        # A tapped quick-reply button; its text also arrives as Body (ButtonText).
        choice=form.get("ButtonPayload") or None,
        attachments=tuple(attachments),
        profile=Profile(phone=phone, name=name),
    )


def split_body(text: str, limit: int = MAX_BODY) -> list[str]:
    """Text in parts of at most `limit` characters, cut at line ends where possible."""
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            candidate = line
        current = candidate
    if current or not parts:
        parts.append(current)
    return parts


def summary_of(text: str) -> str:
    """The first line, fit for a template variable (no newlines, tabs or long runs of
    spaces, which Meta refuses in template parameters)."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    first = " ".join(first.split())
    return first if len(first) <= MAX_SUMMARY else first[: MAX_SUMMARY - 1] + "…"


def describe(exc: TwilioException) -> tuple[str, bool]:
    """(reason, permanent) for an error answer from Twilio; no message body, no number."""
    status = int(getattr(exc, "status", 0) or 0)
    code = getattr(exc, "code", None)
    if status >= 500 or status == 0:
        return f"Twilio HTTP {status or 'error'} (code {code})", False
    what = KNOWN_ERRORS.get(code, "refused") if isinstance(code, int) else "refused"
    return f"Twilio error {code} (HTTP {status}): {what}", True


class WhatsAppAdapter:
    channel = CHANNEL

    def __init__(
        self,
        settings: Settings,
        *,
        cdn_hosts: Collection[str] = CDN_HOSTS,
        timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        if not (
            settings.twilio_account_sid
            and settings.twilio_auth_token
            and settings.twilio_whatsapp_from
        ):
            raise ConfigError("TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_WHATSAPP_FROM needed")
        self.settings = settings
        self.account_sid = settings.twilio_account_sid
        self.auth_token = settings.twilio_auth_token.get_secret_value()
        sender = settings.twilio_whatsapp_from.strip()
        self.sender = sender if sender.startswith(PREFIX) else PREFIX + sender
        self.status_callback = settings.public_url.rstrip("/") + "/twilio/status"
        # An origin (scheme, host and port): the account's credentials go there and nowhere else.
        self.api_host = origin(settings.twilio_api_url or API_BASE)
        self.cdn_hosts = tuple(cdn_hosts)
        self.timeout = timeout
        self._http: GatewayHttpClient | None = None
        self._client: Client | None = None
        self._media: aiohttp.ClientSession | None = None

    def rest_client(self) -> Client:
        # Created on first use: aiohttp sessions must be made inside the running event loop.
        if self._client is None:
            self._http = GatewayHttpClient(self.settings.twilio_api_url, timeout=self.timeout)
            self._client = Client(
                self.account_sid, self.auth_token, account_sid=self.account_sid,
                http_client=self._http,
            )  # fmt: skip
        return self._client

    def render(self, outgoing: Outgoing) -> dict[str, Any]:
        """Choices as quick-reply buttons when the templates for them are configured and the
        choices fit; else as a numbered list in the body, and the engine matches a typed
        number or label to the choice. `parts` are sent in order; with `quick_reply` the last
        part is sent as that content, with the part as its body."""
        media = [media_url(self.settings, m) for m in outgoing.images[:MAX_MEDIA]]
        rendered: dict[str, Any] = {"summary": summary_of(outgoing.text), "media": media}
        quick = self._quick_reply(outgoing)
        if quick is not None:
            lead, ask, rendered["quick_reply"] = quick
            # Media cannot ride on a content message: a lead part (maybe empty) carries it.
            rendered["parts"] = [*(split_body(lead) if lead or media else []), ask]
            return rendered
        lines = [outgoing.text]
        if outgoing.choices:
            lines.append("")
            lines += [f"{i}. {c.label}" for i, c in enumerate(outgoing.choices, start=1)]
        rendered["parts"] = split_body("\n".join(lines))
        return rendered

    def _quick_reply(self, outgoing: Outgoing) -> tuple[str, str, dict[str, str]] | None:
        """(lead text, question, content fields), or None when buttons cannot be used.

        The question (the text's last line) is the buttons' body; what comes before it goes
        out as text first. The templates are `achterban whatsapp quick-replies`' own: body
        {{1}}, button n with title {{2n}} and id {{2n+1}} — the id is the choice's payload,
        which comes back as ButtonPayload when the button is tapped.
        """
        choices = outgoing.choices
        sid = self.settings.whatsapp_quick_reply_sids.get(len(choices))
        if not (self.settings.whatsapp_quick_replies and sid) or outgoing.multiple:
            return None
        if len(choices) > QUICK_REPLY_MAX_BUTTONS or any(
            len(c.label) > QUICK_REPLY_MAX_TITLE or len(c.payload) > CONTENT_VARIABLE_MAX
            for c in choices
        ):
            return None
        lead, _, ask = outgoing.text.rstrip().rpartition("\n")
        ask = ask.strip()
        if not ask or len(ask) > CONTENT_VARIABLE_MAX:
            return None
        variables = {"1": ask}
        for n, choice in enumerate(choices, start=1):
            variables[str(2 * n)] = choice.label
            variables[str(2 * n + 1)] = choice.payload
        fields = {
            "content_sid": sid,
            "content_variables": json.dumps(variables, ensure_ascii=False),
        }
        return lead.rstrip(), ask, fields

    def window_open(self, last_inbound_at: datetime | None) -> bool:
        if last_inbound_at is None:
            return False
        return datetime.now(UTC) - last_inbound_at < SESSION_WINDOW

    async def send(self, recipient: Recipient, rendered: dict[str, Any]) -> SendResult:
        phone = recipient.account
        if not E164.match(phone):
            raise DeliveryError("recipient is not an E.164 phone number", permanent=True)
        to = PREFIX + phone
        if not self.window_open(recipient.last_inbound_at):
            template = self.settings.whatsapp_template_sid
            if not template:
                raise DeliveryError(
                    "outside the WhatsApp 24-hour window and no template configured "
                    "(ACHTERBAN_WHATSAPP_TEMPLATE_SID)",
                    permanent=True,
                )
            variables = json.dumps({"1": rendered.get("summary", "")}, ensure_ascii=False)
            notice = await self._create(to=to, content_sid=template, content_variables=variables)
            return SendResult(platform_message_id=notice, held=True)
        # Parts in order; the last one (with the choices) is the message reports refer to.
        sids = [
            await self._create(to=to, **self.part_fields(rendered, i))
            for i in range(len(rendered["parts"]))
        ]
        return SendResult(platform_message_id=sids[-1] if sids else None)

    @staticmethod
    def part_fields(rendered: dict[str, Any], index: int) -> dict[str, Any]:
        """What Twilio gets for part `index` of a rendered message: its body, the media on
        the last text part, and the quick-reply content in place of the last part."""
        parts: list[str] = rendered["parts"]
        quick: dict[str, str] | None = rendered.get("quick_reply")
        last = len(parts) - 1
        if quick is not None and index == last:
            return dict(quick)
        fields: dict[str, Any] = {"body": parts[index]} if parts[index] else {}
        media = rendered.get("media") or []
        if media and index == (last - 1 if quick is not None else last):
            fields["media_url"] = media
        return fields

    async def _create(self, **fields: Any) -> str:
        try:
            message = await self.rest_client().messages.create_async(
                from_=self.sender, status_callback=self.status_callback, **fields
            )
        except RateLimited as exc:
            reason = "Twilio HTTP 429 (rate limited)"
            raise DeliveryError(reason, retry_after=exc.retry_after) from exc
        except TwilioException as exc:
            reason, permanent = describe(exc)
            log.warning("twilio refused a message", extra={"reason": reason})
            raise DeliveryError(reason, permanent=permanent) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise DeliveryError(f"Twilio unreachable: {type(exc).__name__}") from exc
        if not message.sid:
            raise DeliveryError("Twilio answered without a message SID")
        return str(message.sid)

    async def fetch_media(self, ref: MediaRef) -> bytes:
        """Media URLs point at Twilio's API and redirect to its CDN: account credentials go
        to the API host only, never past the redirect; other hosts are refused."""
        if self._media is None:
            self._media = aiohttp.ClientSession()
        body, _type = await fetch_capped(
            self._media,
            ref.url,
            allowed_hosts=(self.api_host, *self.cdn_hosts),
            max_bytes=self.settings.media_max_bytes,
            credentials={"Authorization": basic_auth(self.account_sid, self.auth_token)},
            credential_hosts=(self.api_host,),
        )
        return body

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
        if self._media is not None:
            await self._media.close()


class Webhooks:
    """The two URLs Twilio calls; both are signed the same way."""

    def __init__(self, settings: Settings, engine: EngineApi) -> None:
        assert settings.twilio_auth_token is not None
        self.validator = RequestValidator(settings.twilio_auth_token.get_secret_value())
        self.public_url = settings.public_url.rstrip("/")
        self.engine = engine

    async def verified_form(self, request: web.Request) -> Mapping[str, str]:
        """The form, once its signature matches the public URL; 403/400 otherwise."""
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature:
            raise web.HTTPForbidden(text="missing signature")
        if request.content_type != FORM:
            raise web.HTTPBadRequest(text="expected a form body")
        try:
            form = await request.post()
        except web.HTTPException:
            raise  # 413 for bodies over the server's limit
        except (ValueError, UnicodeDecodeError) as exc:
            raise web.HTTPBadRequest(text="unreadable form body") from exc
        url = self.public_url + request.raw_path
        if not self.validator.validate(url, form, signature):
            log.warning("twilio signature rejected", extra={"path": request.path})
            raise web.HTTPForbidden(text="invalid signature")
        # Checked as signed; used without NUL characters (PostgreSQL cannot store them).
        return {storable(k): storable(v) for k, v in form.items() if isinstance(v, str)}

    async def inbound(self, request: web.Request) -> web.Response:
        form = await self.verified_form(request)
        try:
            incoming = parse_incoming(form)
        except MalformedRequest as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
        if incoming is not None:
            await self.engine.handle(incoming)
        return twiml()

    async def status(self, request: web.Request) -> web.Response:
        form = await self.verified_form(request)
        sid = form.get("MessageSid") or form.get("SmsSid")
        status = form.get("MessageStatus") or form.get("SmsStatus")
        if not sid or not status:
            raise web.HTTPBadRequest(text="MessageSid and MessageStatus are required")
        code = (form.get("ErrorCode") or "").strip()[:16]
        error = f"Twilio error {code} ({status})" if code else None
        await self.engine.record_status(CHANNEL, sid, status, error=error)
        return twiml()


def twiml() -> web.Response:
    """The empty answer: nothing to say in TwiML, replies go through the REST API."""
    return web.Response(text=EMPTY_TWIML, content_type="text/xml")


def mount(settings: Settings, engine: EngineApi) -> Mount:
    hooks = Webhooks(settings, engine)
    inbound = web.post("/twilio/whatsapp", hooks.inbound)
    status = web.post("/twilio/status", hooks.status)
    return Mount(adapter=WhatsAppAdapter(settings), routes=[inbound, status])
