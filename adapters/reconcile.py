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
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from twilio.base.exceptions import TwilioException

from adapters.base import Adapter
from adapters.slack import SlackAdapter
from adapters.slack_render import UPDATE_FALLBACK_ERRORS, delivery_errors
from adapters.whatsapp import PREFIX, RateLimited, WhatsAppAdapter, describe
from bot.config import Settings
from bot.messages import DeliveryError, Recipient, SendResult

SLACK_EVENT_TYPE = "achterban_outbox"
# Parts of the message being sent that Twilio accepted (a long text goes in several).
_parts_sent: ContextVar[int] = ContextVar("parts_sent", default=0)
# The DM history read per lookup: a person gets few messages from the bot in a few minutes.
SLACK_HISTORY_PAGES = 5
# Twilio's clock against ours; and how many of the person's latest messages are read.
CLOCK_SKEW = timedelta(minutes=2)
TWILIO_LOOKUP_LIMIT = 50
# Errors after which the request may have been written and processed (not: refused to
# connect, which never left).
_IN_DOUBT_ERRORS = (
    TimeoutError,
    aiohttp.ServerDisconnectedError,
    aiohttp.ClientOSError,
    aiohttp.ClientPayloadError,
)


def _mark_in_doubt(exc: DeliveryError) -> None:
    """Mark a transient failure whose request may have reached the platform."""
    cause = exc.__cause__ or exc.__context__
    connect_failed = isinstance(cause, aiohttp.ClientConnectorError)
    if not exc.permanent and isinstance(cause, _IN_DOUBT_ERRORS) and not connect_failed:
        exc.extra["in_doubt"] = True


class ReconcilingSlackAdapter(SlackAdapter):
    """Slack with the outbox key in each new message's metadata, and the lookup by it."""

    def http(self) -> aiohttp.ClientSession:
        session = super().http()
        # slack_sdk re-sends a request whose connection broke: for chat.postMessage that can
        # post twice. The outbox decides instead, after a lookup.
        client = self._client
        if client is not None:
            client.retry_handlers = [
                h for h in client.retry_handlers
                if not isinstance(h, AsyncConnectionErrorRetryHandler)
            ]  # fmt: skip
        return session

    async def send(
        self, recipient: Recipient, rendered: dict[str, Any], *, key: str | None = None
    ) -> SendResult:
        """chat.update of the message in `replaces` (repeating an update is harmless), else
        a DM carrying the key."""
        message = {"text": rendered["text"], "blocks": rendered["blocks"]}
        channel, _, ts = (rendered.get("replaces") or "").partition(":")
        if channel and ts:
            try:
                with delivery_errors("chat.update"):
                    resp = await self.client.chat_update(channel=channel, ts=ts, **message)
                return SendResult(f"{resp['channel']}:{resp['ts']}")
            except DeliveryError as exc:
                if exc.extra.get("error") not in UPDATE_FALLBACK_ERRORS:
                    raise
        channel = await self._dm_channel(recipient.account)
        if key is not None:
            message["metadata"] = {"event_type": SLACK_EVENT_TYPE, "event_payload": {"key": key}}
        try:
            with delivery_errors("chat.postMessage"):
                resp = await self.client.chat_postMessage(channel=channel, **message)
        except DeliveryError as exc:
            _mark_in_doubt(exc)
            raise
        return SendResult(f"{resp['channel']}:{resp['ts']}")

    async def reconcile(
        self, recipient: Recipient, rendered: dict[str, Any], key: str, since: datetime
    ) -> SendResult | None:
        """The DM message whose metadata carries `key`, posted since `since` (minus skew)."""
        channel = await self._dm_channel(recipient.account)
        oldest = f"{(since - CLOCK_SKEW).timestamp():.6f}"
        cursor: str | None = None
        for _ in range(SLACK_HISTORY_PAGES):
            with delivery_errors("conversations.history"):
                resp = await self.client.conversations_history(
                    channel=channel, oldest=oldest, include_all_metadata=True, limit=200,
                    cursor=cursor,
                )  # fmt: skip
            for message in resp.get("messages") or []:
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == SLACK_EVENT_TYPE and payload.get("key") == key:
                    return SendResult(f"{channel}:{message['ts']}")
            cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
            if not resp.get("has_more") or not cursor:
                return None
        raise DeliveryError("slack conversations.history: too many messages to search")


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
