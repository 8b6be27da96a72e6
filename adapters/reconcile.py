"""Looking a message up on the platform after a crash (bot.delivery.Reconcilable).

The delivery worker marks an outbox row `sending` before its request leaves. When the worker
dies, or the connection breaks after the request was written, the row is in doubt: the
platform may or may not have the message. These adapters can tell:

- Slack: each new message carries the outbox key in its metadata (chat.postMessage
  `metadata` = {"event_type": "achterban_outbox", "event_payload": {"key": …}}); the lookup
  reads the DM's history with include_all_metadata (needs the `im:history` scope).
- WhatsApp (Twilio): Messages have no idempotency key nor any field of ours, so the lookup
  lists the messages from our sender to the person (To, From) created since the send started
  and compares bodies (a template notice: its summary).

Teams has no such handle; its adapter stays as it is and the worker sends again (the one
window left, docs/delivery.md). These are subclasses so that the tests and the lead can use
them before the methods are folded into adapters/slack.py and adapters/whatsapp.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from datetime import datetime
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioException

from adapters.base import CLOCK_SKEW, Adapter
from adapters.base import mark_in_doubt as _mark_in_doubt
from adapters.slack_outbound import ReconcilingSlackAdapter
from adapters.whatsapp import PREFIX, RateLimited, WhatsAppAdapter, describe
from bot.config import Settings
from bot.messages import DeliveryError, Recipient, SendResult

# Parts of the message being sent that Twilio accepted (a long text goes in several).
_parts_sent: ContextVar[int] = ContextVar("parts_sent", default=0)
TWILIO_LOOKUP_LIMIT = 50


class ReconcilingWhatsAppAdapter(WhatsAppAdapter):
    """WhatsApp with the lookup in Twilio's message list; a broken connection is in doubt."""

    async def send(
        self, recipient: Recipient, rendered: dict[str, Any], *, key: str | None = None
    ) -> SendResult:
        """Twilio keeps no field of ours, so the key is not sent; the lookup compares
        bodies. A long text goes in parts: when a later part fails, the earlier ones are
        out, so the message is in doubt and the next attempt completes it."""
        parts = _parts_sent.set(0)
        try:
            return await super().send(recipient, rendered)
        except DeliveryError as exc:
            if _parts_sent.get() and not exc.permanent:
                exc.extra["in_doubt"] = True
            raise
        finally:
            _parts_sent.reset(parts)

    async def _create(self, **fields: Any) -> str:
        try:
            sid = await super()._create(**fields)
        except DeliveryError as exc:
            _mark_in_doubt(exc)
            raise
        _parts_sent.set(_parts_sent.get() + 1)
        return sid

    async def reconcile(
        self, recipient: Recipient, rendered: dict[str, Any], key: str, since: datetime
    ) -> SendResult | None:
        """What Twilio has of this message since `since`: all of it (its last SID), none of
        it (None), or its first parts — then the rest is sent now, in order."""
        to = PREFIX + recipient.account
        try:
            listed = await self.rest_client().messages.list_async(
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


def reconciling(adapters: Mapping[str, Adapter], settings: Settings) -> dict[str, Adapter]:
    """The delivery worker's adapters, with Slack and WhatsApp able to look messages up.

    For a worker process (`achterban worker`); the adapters that serve webhooks stay as they
    are. Close the returned ones that are new (they have their own connection pools).
    """
    out = dict(adapters)
    if "slack" in out:
        out["slack"] = ReconcilingSlackAdapter(settings)
    if "whatsapp" in out:
        out["whatsapp"] = ReconcilingWhatsAppAdapter(settings)
    return out
