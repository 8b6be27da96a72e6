"""Slack: Events API, the /or command and interactivity on POST /slack/events, via slack-bolt.

Bolt checks the signature and the 5-minute replay window. It runs with
`process_before_response`, so the engine's transaction has committed (or failed) before Slack
gets its answer: a database outage answers 503 and Slack retries, and a retry of an event that
was handled is a duplicate in inbound_events. Before answering we call Slack only for
users.info (cached), so the 3-second acknowledgement holds; replies go through the outbox.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from adapters.base import EngineApi, Mount
from adapters.media import MediaRefused, fetch_capped, origin
from adapters.slack_render import (
    CHANNEL,
    UPDATE_FALLBACK_ERRORS,
    Malformed,
    delivery_errors,
    envelope_problem,
    incoming_from_action,
    incoming_from_command,
    incoming_from_message,
    message_sender,
    render,
    required,
    retry_after,
)
from bot.config import Settings
from bot.errors import ConfigError, StoreUnavailable, Unstorable
from bot.i18n import normalise_language, t
from bot.log_privacy import pseudonym
from bot.media_links import media_url
from bot.messages import DeliveryError, Incoming, MediaRef, Outgoing, Profile, Recipient, SendResult
from bot.text import ascii_int, storable

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
SLACK_API_URL = "https://slack.com/api/"
SLACK_FILE_HOSTS = ("files.slack.com",)
USER_TTL_SECONDS = 3600.0  # e-mail addresses rarely change; a restart forgets them anyway
USERS_INFO_TIMEOUT = 2.0  # inside Slack's 3-second acknowledgement window
SEND_TIMEOUT = 15.0
# A 429 with a short Retry-After is waited out inline; a longer one goes back to the outbox,
# which reschedules the message instead of holding a delivery worker.
INLINE_RATE_LIMIT_WAIT = 5.0
SDK_LOGGER = "slack_sdk.web.async_base_client"


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


class BoundedRateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's rate-limit retry, only while Retry-After is at most `max_wait` seconds."""

    def __init__(self, max_wait: float, max_retry_count: int = 1) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    async def _can_retry_async(self, **kwargs: Any) -> bool:
        response = kwargs.get("response")
        wait = retry_after(response.headers if response is not None else None)
        return await super()._can_retry_async(**kwargs) and (wait is None or wait <= self.max_wait)


def web_client(
    settings: Settings,
    session: aiohttp.ClientSession,
    *,
    rate_limit_wait: float = INLINE_RATE_LIMIT_WAIT,
    rate_limit_retries: int = 1,
) -> AsyncWebClient:
    """slack_sdk's client for our token and API base URL (ACHTERBAN_SLACK_API_URL in tests).

    The rate-limit retry handler is opt-in in slack_sdk; every client of ours has it.
    """
    if settings.slack_bot_token is None:
        raise ConfigError("SLACK_BOT_TOKEN is not set")
    handlers: list[AsyncRetryHandler] = [AsyncConnectionErrorRetryHandler()]
    handlers.append(BoundedRateLimitRetry(rate_limit_wait, rate_limit_retries))
    token = settings.slack_bot_token.get_secret_value()
    return AsyncWebClient(
        token=token,
        base_url=api_base_url(settings),
        session=session,
        retry_handlers=handlers,
        logger=sdk_logger(),
    )


def sdk_logger() -> logging.Logger:
    """slack_sdk's logger, with its level set to the one it has in effect.

    slack_sdk formats a debug line of every request and response (headers and body) whenever
    its logger's own level is at most DEBUG — it tests `logger.level`, not `isEnabledFor` —
    and a logger nobody configured has level NOTSET (0). That costs more CPU than the request.
    """
    parent = logging.getLogger(SDK_LOGGER)
    logger = logging.getLogger(SDK_LOGGER + ".achterban")
    logger.setLevel(parent.getEffectiveLevel())
    return logger


def api_base_url(settings: Settings) -> str:
    url = settings.slack_api_url or SLACK_API_URL
    return url if url.endswith("/") else url + "/"


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

    async def send(self, recipient: Recipient, rendered: dict[str, Any]) -> SendResult:
        """chat.update of the message in `replaces`, else a DM via conversations.open."""
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
        with delivery_errors("chat.postMessage"):
            resp = await self.client.chat_postMessage(channel=channel, **message)
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
            what = {"error": _error_name(exc), "user": pseudonym(user_id)}
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
        name = who.profile.name if who.profile else None
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


def _error_name(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or exc.response.status_code)
    return type(exc).__name__


# --- inbound -------------------------------------------------------------------------------


class SlackEvents:
    """Translates bolt's requests into Incoming and hands them to the engine."""

    def __init__(self, adapter: SlackAdapter, engine: EngineApi, signing_secret: str) -> None:
        self.adapter = adapter
        self.engine = engine
        self.verifier = SignatureVerifier(signing_secret)
        self.signing_secret = signing_secret.encode()
        self.app = AsyncApp(
            name="achterban",
            signing_secret=signing_secret,
            # No token on bolt's client: `authorize` hands it over per request, so bolt never
            # calls auth.test (at start-up or later).
            client=AsyncWebClient(base_url=api_base_url(adapter.settings)),
            authorize=_authorize_with(adapter.token),
            process_before_response=True,
            logger=_bolt_log,
        )
        self.app.middleware(_check_shape)
        # Bolt tries listeners in this order, each at some cost: button presses (votes) are
        # the bulk of the traffic, so their listener comes first.
        self.app.action(re.compile(".*"))(self._on_action)
        self.app.event("message")(self._on_message)
        self.app.event("app_mention")(self._on_mention)
        self.app.event("app_home_opened")(self._on_home)
        self.app.event("reaction_added")(self._on_reaction)
        self.app.event("reaction_removed")(self._on_reaction)
        self.app.command("/or")(self._on_command)
        self.app.error(self._on_error)

    async def handle_request(self, request: web.Request) -> web.StreamResponse:
        """POST /slack/events. aiohttp itself answers 413 above the server's body limit.

        A body that is not UTF-8 is 400. Then the signature: whoever cannot sign gets 401
        before anything is parsed (bolt checks it again). JSON nested too deep for Python's
        parser (RecursionError) is 400."""
        raw = await request.read()
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            # Slack sends UTF-8 only, and its SDK verifies text: nothing else is ours to read.
            return web.json_response({"error": "body is not UTF-8"}, status=400)
        if not self._signed(body, request.headers):
            log.info("slack request refused: no valid signature", extra={"bytes": len(raw)})
            return web.json_response({"error": "invalid signature"}, status=401)
        try:
            bolt_request = AsyncBoltRequest(
                body=body, query=request.query_string, headers=dict(request.headers)
            )
        except (ValueError, LookupError, TypeError, AttributeError, RecursionError):
            # JSON nested deeper than the parser goes, or a shape bolt's request cannot take
            # (it reads e.g. authorizations[0] while building its context).
            return web.json_response({"error": "malformed request"}, status=400)
        problem = envelope_problem(bolt_request.body)
        if problem is not None:
            log.info("slack payload malformed", extra={"error": problem})
            return web.json_response({"error": "malformed payload"}, status=400)
        try:
            response = await self.app.async_dispatch(bolt_request)
        except (StoreUnavailable, Unstorable):
            raise
        except Exception as exc:
            # bolt itself failed on a signed payload it could not read (its listeners' errors
            # go to _on_error): the request is at fault, and nothing was stored.
            log.warning("slack payload not understood", extra={"error": type(exc).__name__})
            return web.json_response({"error": "malformed payload"}, status=400)
        if response.status == 404:
            # No listener for this kind of event: acknowledge, or Slack retries and in the end
            # disables the subscription.
            return web.Response(status=200)
        return await to_aiohttp_response(response)

    def _signed(self, body: str, headers: Mapping[str, str]) -> bool:
        """Slack's v0 signature, within the 5-minute replay window, checked by slack_sdk.

        The SDK reads the timestamp with int() and compares the signature with
        hmac.compare_digest, which raise on a non-numeric timestamp and on a non-ASCII
        signature: both are simply not signed here."""
        stamp = headers.get("X-Slack-Request-Timestamp", "")
        signature = headers.get("X-Slack-Signature", "")
        if ascii_int(stamp) is None or not signature.isascii():
            return False
        return bool(self.verifier.is_valid(body, stamp, signature))

    async def _on_error(self, error: Exception) -> BoltResponse:
        if isinstance(error, StoreUnavailable):
            log.warning("slack event not stored: database unavailable")
            status = 503  # Slack retries (1 min, 5 min later)
        elif isinstance(error, Unstorable):
            log.info("slack event refused by the store", extra={"error": str(error)})
            status = 400  # a value the store cannot hold: nothing was written
        else:
            log.error("slack listener failed", extra={"error": type(error).__name__})
            status = 500
        return BoltResponse(status=status, body=json.dumps({"error": "not handled"}))

    async def _handle(self, incoming: Incoming, request: AsyncBoltRequest) -> None:
        outcome = await self.engine.handle(incoming)
        if outcome.duplicate:
            retry = request.headers.get("x-slack-retry-num", ["?"])[0]
            log.info("slack retry of a handled event", extra={"retry": retry})

    async def _on_message(self, body: dict[str, Any], request: AsyncBoltRequest) -> Any:
        return await _answer(self._message(body, request, mention=False))

    async def _on_mention(self, body: dict[str, Any], request: AsyncBoltRequest) -> Any:
        return await _answer(self._message(body, request, mention=True))

    async def _message(
        self, body: dict[str, Any], request: AsyncBoltRequest, mention: bool
    ) -> None:
        user = message_sender(body, mention=mention)
        if user is not None:
            who = await self.adapter.user(user)
            incoming = incoming_from_message(
                body, user, mention=mention, locale=who.locale, profile=who.profile
            )
            await self._handle(incoming, request)

    async def _on_reaction(self, event: dict[str, Any]) -> None:
        """A reaction on one of our DMs: counted for broadcasts (idempotent, so retries of
        the event are harmless)."""
        item = event.get("item") or {}
        user, reaction = event.get("user"), event.get("reaction")
        channel, ts = item.get("channel"), item.get("ts")
        if item.get("type") != "message" or not (
            isinstance(user, str)
            and isinstance(reaction, str)
            and isinstance(channel, str)
            and isinstance(ts, str)
        ):
            return
        await self.engine.record_reaction(
            CHANNEL, storable(f"{channel}:{ts}"), storable(reaction), account=storable(user),
            added=event.get("type") == "reaction_added",
        )  # fmt: skip

    async def _on_home(self, event: dict[str, Any]) -> None:
        user = event.get("user")
        if event.get("tab", "home") == "home" and isinstance(user, str):
            self.adapter.later(
                self.adapter.publish_home(user, lambda account: self.engine.home(CHANNEL, account))
            )

    async def _on_command(self, ack: Any, body: dict[str, Any], request: AsyncBoltRequest) -> Any:
        async def work() -> None:
            who = await self.adapter.user(required(body.get("user_id"), "user_id"))
            incoming = incoming_from_command(body, locale=who.locale, profile=who.profile)
            await self._handle(incoming, request)
            await ack()

        return await _answer(work())

    async def _on_action(self, ack: Any, body: dict[str, Any], request: AsyncBoltRequest) -> Any:
        # No users.info here: a button only reaches someone we already sent a message, so the
        # account is linked; votes stay fast.
        async def work() -> None:
            incoming = incoming_from_action(body)
            if incoming is not None:
                await self._handle(incoming, request)
            await ack()

        return await _answer(work())


async def _check_shape(body: dict[str, Any], next: Callable[[], Awaitable[None]]) -> Any:
    """After the signature check: the envelopes we act on must have their core, else 400
    (bolt would find no listener and answer 404, which we turn into a silent 200)."""
    kind, actions = body.get("type"), body.get("actions")
    if (kind == "event_callback" and not isinstance(body.get("event"), dict)) or (
        kind == "block_actions" and not (isinstance(actions, list) and actions)
    ):
        return BoltResponse(status=400, body=json.dumps({"error": "malformed payload"}))
    return await next()


# What bolt logs is filtered where all logs are: bot/logs.py (QuietNotes, JsonFormatter).
_bolt_log = logging.getLogger("slack_bolt")


def _authorize_with(token: str) -> Callable[..., Awaitable[AuthorizeResult]]:
    # A plain function: bolt passes the arguments it names (a bound method's `self` confuses it).
    async def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=token)

    return authorize


async def _answer(work: Awaitable[None]) -> BoltResponse | None:
    """None lets bolt answer 200; a payload we cannot read is 400 (it was correctly signed)."""
    try:
        await work
    except Malformed as exc:
        log.info("slack payload malformed", extra={"error": str(exc)})
        return BoltResponse(status=400, body=json.dumps({"error": "malformed payload"}))
    return None


def mount(settings: Settings, engine: EngineApi) -> Mount:
    """The composition root's entry point: the adapter and POST /slack/events."""
    if settings.slack_signing_secret is None:
        raise ConfigError("SLACK_SIGNING_SECRET is not set")
    adapter = SlackAdapter(settings)
    events = SlackEvents(adapter, engine, settings.slack_signing_secret.get_secret_value())
    return Mount(adapter=adapter, routes=[web.post(EVENTS_PATH, events.handle_request)])
