"""Slack outbound: sending through the Web API (chat.update, else a DM), users.info lookups
and their caches, the App Home tab, and downloads of shared files.

Retry-After: a short one is waited out inline by the client (adapters/slack_api.py), a longer
one goes back to the outbox as DeliveryError.retry_after. Each new message can carry the
outbox key in its metadata (chat.postMessage `metadata` = {"event_type": "achterban_outbox",
"event_payload": {"key": …}}); the delivery worker's adapter (ReconcilingSlackAdapter) looks a
message in doubt up by it in the DM's history (needs the `im:history` scope), see
docs/delivery.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from adapters.base import CLOCK_SKEW, mark_in_doubt
from adapters.media import MediaRefused, fetch_capped, origin
from adapters.slack_api import (
    UPDATE_FALLBACK_ERRORS,
    api_base_url,
    delivery_errors,
    error_name,
    web_client,
)
from adapters.slack_render import CHANNEL, render
from bot.config import Settings
from bot.errors import ConfigError
from bot.i18n import normalise_language, t
from bot.log_privacy import pseudonym
from bot.media_links import media_url
from bot.messages import DeliveryError, MediaRef, Outgoing, Profile, Recipient, SendResult
from bot.text import first_name

log = logging.getLogger(__name__)

SLACK_FILE_HOSTS = ("files.slack.com",)
USER_TTL_SECONDS = 3600.0  # e-mail addresses rarely change; a restart forgets them anyway
USERS_INFO_TIMEOUT = 2.0  # inside Slack's 3-second acknowledgement window
SEND_TIMEOUT = 15.0
SLACK_EVENT_TYPE = "achterban_outbox"
# The DM history read per lookup: a person gets few messages from the bot in a few minutes.
SLACK_HISTORY_PAGES = 5


class _TtlCache(dict[str, tuple[float, Any]]):
    """Values that expire; at most one entry per user of the workspace."""

    def __init__(self, ttl: float) -> None:
        super().__init__()
        self.ttl = ttl

    def fresh(self, key: str) -> Any | None:
        expires, value = self.get(key, (0.0, None))
        return value if expires > time.monotonic() else None

    def put(self, key: str, value: Any) -> None:
        self[key] = (time.monotonic() + self.ttl, value)


@dataclass(frozen=True, slots=True)
class SlackUser:
    """What users.info told about a sender; `profile` None when Slack could not say."""

    profile: Profile | None
    locale: str | None = None


class SlackAdapter:
    """Renders and sends through the Web API; looks up users; downloads shared files."""

    channel = CHANNEL

    def __init__(self, settings: Settings) -> None:
        if settings.slack_bot_token is None:
            raise ConfigError("SLACK_BOT_TOKEN is not set")
        self.settings = settings
        self.token = settings.slack_bot_token.get_secret_value()
        # Files come from Slack's file host; a configured API URL (a gateway, or the fake
        # Slack in tests) serves them too: that origin exactly (scheme, host and port).
        api_origin = origin(api_base_url(settings))
        self.file_hosts = SLACK_FILE_HOSTS + ((api_origin,) if settings.slack_api_url else ())
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None
        self._users = _TtlCache(USER_TTL_SECONDS)
        self._dm_channels = _TtlCache(24 * 3600.0)
        self._tasks: set[asyncio.Task[None]] = set()

    def http(self) -> aiohttp.ClientSession:
        """One connection pool, made on first use (it needs the running event loop)."""
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=SEND_TIMEOUT)
            self._session = aiohttp.ClientSession(timeout=timeout)
            self._client = web_client(self.settings, self._session)
        return self._session

    @property
    def client(self) -> AsyncWebClient:
        self.http()
        assert self._client is not None
        return self._client

    def render(self, outgoing: Outgoing) -> dict[str, Any]:
        return render(outgoing, self._media_url)

    def _media_url(self, media_id: str) -> str:
        return media_url(self.settings, media_id)

    async def send(
        self, recipient: Recipient, rendered: dict[str, Any], *, key: str | None = None
    ) -> SendResult:
        """chat.update of the message in `replaces` (repeating an update is harmless), else a
        DM via conversations.open, carrying the outbox `key` in its metadata when given (the
        delivery worker's lookup after a crash, ReconcilingSlackAdapter.reconcile)."""
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
            mark_in_doubt(exc)
            raise
        return SendResult(f"{resp['channel']}:{resp['ts']}")

    async def _dm_channel(self, user_id: str) -> str:
        cached = self._dm_channels.fresh(user_id)
        if cached is not None:
            return str(cached)
        with delivery_errors("conversations.open"):
            resp = await self.client.conversations_open(users=user_id)
        channel_id = str(resp["channel"]["id"])
        self._dm_channels.put(user_id, channel_id)
        return channel_id

    async def fetch_media(self, ref: MediaRef) -> bytes:
        """From Slack's file host only, with the bot token, capped; never a login page."""
        body, content_type = await fetch_capped(
            self.http(),
            ref.url,
            allowed_hosts=self.file_hosts,
            max_bytes=self.settings.media_max_bytes,
            credentials={"Authorization": f"Bearer {self.token}"},
            credential_hosts=self.file_hosts,
        )
        if content_type.split(";")[0].strip().lower() == "text/html":
            # What Slack serves when the token may not read the file (files:read missing).
            raise MediaRefused("Slack sent a web page instead of the file", permanent=True)
        return body

    async def user(self, user_id: str) -> SlackUser:
        """users.info e-mail, name and locale, cached; on failure no profile (logged)."""
        cached = self._users.fresh(user_id)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        try:
            async with asyncio.timeout(USERS_INFO_TIMEOUT):
                resp = await self.client.users_info(user=user_id, include_locale=True)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            what = {"error": error_name(exc), "user": pseudonym(user_id)}
            log.warning("slack users.info failed", extra=what)
            return SlackUser(None)
        data = resp.get("user") or {}
        profile = data.get("profile") or {}
        found = SlackUser(
            Profile(
                email=profile.get("email") or None,
                name=data.get("real_name") or profile.get("real_name") or None,
            ),
            locale=data.get("locale") or None,
        )
        self._users.put(user_id, found)
        return found

    async def publish_home(
        self, user_id: str, open_now: Callable[[str], Awaitable[Outgoing | None]]
    ) -> None:
        """The App Home tab: a greeting, what is open for the person (from the engine), and
        how to start, in the person's Slack language."""
        who = await self.user(user_id)
        lang = normalise_language(who.locale or self.settings.locale)
        name = first_name(who.profile.name) if who.profile else None
        greeting = (
            t(lang, "slack.home_greeting", name=name) if name else t(lang, "slack.home_hello")
        )
        summary = await open_now(user_id)
        parts = [greeting, *([summary.text] if summary else []), t(lang, "slack.home_help")]
        home = Outgoing(text="\n\n".join(parts), choices=summary.choices if summary else ())
        view = {"type": "home", "blocks": render(home)["blocks"]}
        try:
            with delivery_errors("views.publish"):
                await self.client.views_publish(user_id=user_id, view=view)
        except DeliveryError as exc:
            log.warning("slack views.publish failed", extra={"error": exc.reason})

    def later(self, work: Coroutine[Any, Any, None]) -> None:
        """Run after the acknowledgement (Slack calls other than users.info must wait)."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()


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
