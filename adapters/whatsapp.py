"""WhatsApp through Twilio: `POST /twilio/whatsapp` (messages) and `POST /twilio/status`.

Translation only. Inbound: the X-Twilio-Signature is checked by twilio's RequestValidator
against ACHTERBAN_PUBLIC_URL + path, because Twilio signs the exact URL it called (scheme,
host, port) and behind a proxy our Host header says something else; then the form becomes an
Incoming, the engine handles it (deduplicated on MessageSid, as Twilio's retries carry no
timestamp) and Twilio gets an empty TwiML answer at once. Status callbacks go to the engine's
`record_status`.

The channel's other modules: adapters/whatsapp_outbound.py (rendering and sending through
the REST API, the worker's lookup after a crash), adapters/whatsapp_twilio.py (Twilio's HTTP
client and errors), adapters/whatsapp_content.py (the quick-reply templates).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiohttp import web
from twilio.request_validator import RequestValidator

from adapters.base import EngineApi, Mount
from adapters.whatsapp_outbound import (
    ReconcilingWhatsAppAdapter,
    WhatsAppAdapter,
    split_body,
    summary_of,
)
from adapters.whatsapp_twilio import (
    CHANNEL,
    E164,
    PREFIX,
    RateLimited,
    describe,
    retry_after_seconds,
)
from bot.config import Settings
from bot.messages import Incoming, MediaRef, Profile
from bot.text import ascii_int, storable

__all__ = [
    "CHANNEL",
    "PREFIX",
    "MalformedRequest",
    "RateLimited",
    "ReconcilingWhatsAppAdapter",
    "Webhooks",
    "WhatsAppAdapter",
    "describe",
    "e164",
    "mount",
    "parse_incoming",
    "retry_after_seconds",
    "split_body",
    "summary_of",
    "twiml",
]

log = logging.getLogger(__name__)

FORM = "application/x-www-form-urlencoded"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


class MalformedRequest(ValueError):
    """A signed request whose content we cannot use (400)."""


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
