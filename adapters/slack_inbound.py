"""Slack inbound: POST /slack/events (Events API, the /or command and interactivity) through
slack-bolt, each request translated into an Incoming for the engine.

Bolt checks the signature and the 5-minute replay window. It runs with
`process_before_response`, so the engine's transaction has committed (or failed) before Slack
gets its answer: a database outage answers 503 and Slack retries, and a retry of an event that
was handled is a duplicate in inbound_events. Before answering we call Slack only for
users.info (cached), so the 3-second acknowledgement holds; replies go through the outbox.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from adapters.base import EngineApi
from adapters.slack_api import api_base_url
from adapters.slack_outbound import SlackAdapter
from adapters.slack_parse import (
    Malformed,
    envelope_problem,
    incoming_from_action,
    incoming_from_command,
    incoming_from_message,
    message_sender,
    required,
)
from adapters.slack_render import CHANNEL
from bot.errors import StoreUnavailable, Unstorable
from bot.messages import Incoming
from bot.text import ascii_int, storable

log = logging.getLogger(__name__)


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
