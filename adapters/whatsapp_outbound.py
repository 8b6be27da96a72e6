"""WhatsApp outbound through Twilio's REST API (never TwiML), so replies survive restarts and
honour rate limits: rendering (text parts, quick-reply buttons, media), the 24-hour window
(a template notice outside it), sending, and downloads of media people sent.

The delivery worker's adapter (ReconcilingWhatsAppAdapter) looks a message in doubt up after
a crash: Twilio's Messages have no idempotency key nor any field of ours, so the lookup lists
the messages from our sender to the person created since the send started and compares bodies
(a template notice: its summary). See docs/delivery.md.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioException
from twilio.rest import Client
from twilio.rest.api.v2010.account.message import MessageList

from adapters.base import CLOCK_SKEW, mark_in_doubt
from adapters.media import fetch_capped, origin
from adapters.whatsapp_twilio import (
    API_BASE,
    CHANNEL,
    E164,
    PREFIX,
    REQUEST_TIMEOUT,
    GatewayHttpClient,
    RateLimited,
    basic_auth,
    describe,
)
from bot.config import Settings
from bot.errors import ConfigError
from bot.media_links import media_url
from bot.messages import DeliveryError, MediaRef, Outgoing, Recipient, SendResult

log = logging.getLogger(__name__)

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
# Parts of the message being sent that Twilio accepted (a long text goes in several).
_parts_sent: ContextVar[int] = ContextVar("parts_sent", default=0)
# How many of the person's latest messages a lookup reads.
TWILIO_LOOKUP_LIMIT = 50


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
        self._messages: MessageList | None = None
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

    def messages(self) -> MessageList:
        """The account's Messages resource, looked up once (the SDK walks three properties to
        it on every call)."""
        if self._messages is None:
            self._messages = self.rest_client().messages
        return self._messages

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

    async def send(
        self, recipient: Recipient, rendered: dict[str, Any], *, key: str | None = None
    ) -> SendResult:
        """Twilio keeps no field of ours, so `key` (the outbox's) is not sent; the delivery
        worker's lookup (ReconcilingWhatsAppAdapter.reconcile) compares bodies. A long text
        goes in parts: when a later part fails, the earlier ones are out, so the message is
        in doubt and the next attempt completes it."""
        parts = _parts_sent.set(0)
        try:
            return await self._send(recipient, rendered)
        except DeliveryError as exc:
            if _parts_sent.get() and not exc.permanent:
                exc.extra["in_doubt"] = True
            raise
        finally:
            _parts_sent.reset(parts)

    async def _send(self, recipient: Recipient, rendered: dict[str, Any]) -> SendResult:
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
        """One message to Twilio; a broken connection leaves it in doubt, and each accepted
        part is counted for `send`."""
        try:
            sid = await self._post(**fields)
        except DeliveryError as exc:
            mark_in_doubt(exc)
            raise
        _parts_sent.set(_parts_sent.get() + 1)
        return sid

    async def _post(self, **fields: Any) -> str:
        try:
            message = await self.messages().create_async(
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


class ReconcilingWhatsAppAdapter(WhatsAppAdapter):
    """WhatsApp with the lookup in Twilio's message list: the delivery worker's adapter."""

    async def reconcile(
        self, recipient: Recipient, rendered: dict[str, Any], key: str, since: datetime
    ) -> SendResult | None:
        """What Twilio has of this message since `since`: all of it (its last SID), none of
        it (None), or its first parts — then the rest is sent now, in order."""
        to = PREFIX + recipient.account
        try:
            listed = await self.messages().list_async(
                to=to, from_=self.sender, limit=TWILIO_LOOKUP_LIMIT
            )
        except (RateLimited, TwilioException, TimeoutError, aiohttp.ClientError) as exc:
            raise _lookup_error(exc) from exc
        after = since - CLOCK_SKEW
        recent = [
            m for m in listed
            if m.date_created is not None and m.date_created >= after
            and str(m.direction or "").startswith("outbound") and m.status != "failed"
        ]  # fmt: skip
        if not self.window_open(recipient.last_inbound_at):
            summary = rendered.get("summary", "")
            for m in recent:
                if summary and summary in (m.body or ""):
                    return SendResult(platform_message_id=m.sid, held=True)
            return None
        by_body = {m.body or "": m.sid for m in recent}
        parts: list[str] = rendered["parts"]
        sent = 0
        while sent < len(parts) and parts[sent] in by_body:
            sent += 1
        if sent == 0:
            return None
        if sent == len(parts):
            return SendResult(platform_message_id=by_body[parts[-1]])
        sid = ""
        for i in range(sent, len(parts)):
            sid = await self._create(to=to, **self.part_fields(rendered, i))
        return SendResult(platform_message_id=sid)


def _lookup_error(exc: Exception) -> DeliveryError:
    if isinstance(exc, RateLimited):
        return DeliveryError("Twilio HTTP 429 (message list)", retry_after=exc.retry_after)
    if isinstance(exc, TwilioException):
        reason, permanent = describe(exc)
        return DeliveryError(f"{reason} (message list)", permanent=permanent)
    return DeliveryError(f"Twilio message list: {type(exc).__name__}")
