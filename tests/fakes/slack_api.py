"""A fake Slack, as real HTTP on loopback: the Web API methods we call, a file host, and the
sending side of the Events API (requests signed by slack_sdk's own SignatureVerifier).

Payloads start from the recorded ones in tests/adapters/payloads/slack (Slack's documented
shapes, checked against slack-bolt's scenario-test fixtures).
Faults are queued per method: `fail("chat.postMessage", status=429, retry_after=30)`.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from aiohttp import web
from pydantic import SecretStr
from slack_sdk.signature import SignatureVerifier

from bot.app import Runtime
from bot.config import Settings
from bot.delivery import DeliveryWorker
from tests.adapters.payloads import load

TOKEN = "xoxb-test-token"
SIGNING_SECRET = "test-signing-secret"
TEAM = "T0ACHTER"
BOT_USER = "UBOT0001"
LOGIN_PAGE = b"<!DOCTYPE html><html><body>Sign in to Slack</body></html>"


@dataclass
class Fault:
    status: int = 200
    error: str | None = None
    retry_after: float | None = None


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    authorized: bool


@dataclass
class FakeSlackApi:
    """Start with `await api.start()`; `api.api_url` goes into ACHTERBAN_SLACK_API_URL."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    faults: dict[str, deque[Fault]] = field(default_factory=lambda: defaultdict(deque))
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # "channel:ts" → message
    _runner: web.AppRunner | None = None
    url: str = ""
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    async def start(self) -> FakeSlackApi:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/files-pri/{path:.*}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- set-up -------------------------------------------------------------------------------

    def add_user(self, user_id: str, email: str, name: str = "", *, locale: str = "nl-NL") -> None:
        self.users[user_id] = {
            "id": user_id,
            "team_id": TEAM,
            "name": email.split("@")[0],
            "real_name": name or email.split("@")[0].capitalize(),
            "deleted": False,
            "is_bot": False,
            "locale": locale,
            "profile": {"email": email, "real_name": name, "display_name": name},
        }

    def fail(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: float | None = None,
        times: int = 1,
    ) -> None:
        for _ in range(times):
            self.faults[method].append(Fault(status, error, retry_after))

    def add_file(self, name: str, body: bytes, content_type: str = "image/png") -> str:
        """A private file; its URL, as Slack gives it in url_private_download."""
        self.files[name] = (body, content_type)
        return f"{self.url}/files-pri/{TEAM}-F1/download/{name}"

    def add_redirect(self, name: str, location: str) -> str:
        self.redirects[name] = location
        return f"{self.url}/files-pri/{TEAM}-F1/download/{name}"

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    # --- the Web API --------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                args.update(await request.json())
            else:
                args.update(await request.post())
        authorized = request.headers.get("Authorization") == f"Bearer {TOKEN}"
        self.calls.append(Call(method, args, authorized))
        if self.faults[method]:
            fault = self.faults[method].popleft()
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(int(fault.retry_after))
            if fault.status >= 500:
                return web.Response(
                    status=fault.status,
                    text="<html>Bad gateway</html>",
                    content_type="text/html",
                    headers=headers,
                )
            body = {"ok": False, "error": fault.error or "ratelimited"}
            return web.json_response(body, status=fault.status, headers=headers)
        if not authorized:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"})
        return web.json_response(handler(args))

    def _user(self, user_id: str | None) -> dict[str, Any]:
        if user_id not in self.users:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": self.users[user_id]}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._user(args.get("user"))

    def _users_lookupByEmail(self, args: dict[str, Any]) -> dict[str, Any]:
        email = str(args.get("email", "")).lower()
        for user_id, user in self.users.items():
            if user["profile"]["email"].lower() == email:
                return self._user(user_id)
        return {"ok": False, "error": "users_not_found"}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("users", ""))
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "channel": {"id": "D" + user[1:]}}

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel")), self._next_ts()
        message = {"text": args.get("text"), "blocks": args.get("blocks"), "ts": ts}
        self.messages[f"{channel}:{ts}"] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        key = f"{args.get('channel')}:{args.get('ts')}"
        if key not in self.messages:
            return {"ok": False, "error": "message_not_found"}
        self.messages[key].update(text=args.get("text"), blocks=args.get("blocks"))
        return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "view": {"id": "V1", **args.get("view", {})}}

    # --- the file host ------------------------------------------------------------------------

    async def _file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["path"].rsplit("/", 1)[-1]
        self.calls.append(Call("file", {"name": name}, "Authorization" in request.headers))
        if name in self.redirects:
            raise web.HTTPFound(self.redirects[name])
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            # What Slack does without a valid token: a login page, with status 200.
            return web.Response(body=LOGIN_PAGE, content_type="text/html")
        if name not in self.files:
            raise web.HTTPNotFound()
        body, content_type = self.files[name]
        return web.Response(body=body, content_type=content_type)


# --- the sending side of Slack: signed Events API, command and interactivity requests ---------

_event_ids = itertools.count(1)


def signed_headers(
    body: str,
    content_type: str,
    *,
    timestamp: int | None = None,
    secret: str = SIGNING_SECRET,
    retry_num: int | None = None,
) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature or "",
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return headers


def event_body(event: dict[str, Any], *, event_id: str | None = None) -> str:
    """An event_callback envelope as the Events API sends it (JSON), from the recorded
    payloads/slack/message_im.json with this event in it."""
    now = int(time.time())
    return json.dumps(
        load(
            "slack",
            "message_im",
            event=event,
            event_id=event_id or f"Ev{next(_event_ids):08d}",
            event_time=now,
        )
    )


def dm_event(user: str, text: str, **extra: Any) -> dict[str, Any]:
    """A message.im event from `user`, from the recorded one: its rich_text block says the
    same as `text` (Slack sends both; we read `text`)."""
    ts = f"{time.time():.6f}"
    event = load("slack", "message_im")["event"]
    event["blocks"][0]["elements"][0]["elements"] = [{"type": "text", "text": text}]
    event.update(
        channel="D" + user[1:],
        user=user,
        text=text,
        ts=ts,
        event_ts=ts,
        client_msg_id=str(uuid.uuid4()),
    )
    event.update(extra)
    return event


def command_body(user: str, text: str = "", *, trigger_id: str = "13345224609.738.abc") -> str:
    """A slash command, form-encoded, from the recorded payloads/slack/slash_command.json."""
    form = load(
        "slack",
        "slash_command",
        channel_id="D" + user[1:],
        user_id=user,
        user_name=user.lower(),
        text=text,
        trigger_id=trigger_id,
    )
    return urlencode(form)


def actions_body(
    user: str,
    message_ref: str,
    action: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
) -> str:
    """block_actions, form field payload=JSON, from the recorded
    payloads/slack/block_actions.json: the pressed element's fields replace the recorded
    button's, and the message it was on is the one `message_ref` names."""
    channel, ts = message_ref.split(":", 1)
    recorded = load("slack", "block_actions")
    pressed = {k: v for k, v in recorded["actions"][0].items() if k in ("block_id", "type", "text")}
    pressed["action_ts"] = f"{time.time():.6f}"
    pressed.update(action)
    container = {**recorded["container"], "message_ts": ts, "channel_id": channel}
    payload = load(
        "slack",
        "block_actions",
        user={"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
        container=container,
        trigger_id=f"{time.time():.0f}.1.{next(_event_ids)}",
        channel={"id": channel, "name": "directmessage"},
        message={**recorded["message"], "ts": ts},
        state=state or {"values": {}},
        actions=[pressed],
    )
    return "payload=" + quote(json.dumps(payload))


# --- our server as Slack sees it ----------------------------------------------------------

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def slack_settings(settings: Settings, api: FakeSlackApi, **update: Any) -> Settings:
    return settings.model_copy(
        update={
            "slack_bot_token": SecretStr(TOKEN),
            "slack_signing_secret": SecretStr(SIGNING_SECRET),
            "slack_api_url": api.api_url,
            **update,
        }
    )


@dataclass
class Slack:
    """Our server under test, the fake Slack it talks to, and ways to play Slack's part."""

    api: FakeSlackApi
    runtime: Runtime
    url: str
    http: aiohttp.ClientSession

    async def post(
        self, body: str | bytes, content_type: str = JSON, **sign: Any
    ) -> tuple[int, str]:
        text = body if isinstance(body, str) else body.decode("utf-8", "replace")
        headers = signed_headers(text, content_type, **sign)
        async with self.http.post(self.url + "/slack/events", data=body, headers=headers) as r:
            return r.status, await r.text()

    async def dm(self, user: str, text: str, *, event_id: str | None = None, **sign: Any) -> int:
        status, _ = await self.post(event_body(dm_event(user, text), event_id=event_id), **sign)
        return status

    async def press(self, user: str, ref: str, action: dict[str, Any], **kw: Any) -> int:
        status, _ = await self.post(actions_body(user, ref, action, **kw), FORM)
        return status

    async def deliver(self, settings: Settings | None = None, **worker: Any) -> int:
        """Run the real delivery worker until nothing is due (`clock=` to be later)."""
        settings = settings or self.runtime.settings
        adapters = self.runtime.adapters
        return await DeliveryWorker(self.runtime.db, settings, adapters, **worker).drain()

    def posted(self) -> list[dict[str, Any]]:
        return [c.args for c in self.api.calls_to("chat.postMessage")]

    def last_ref(self) -> str:
        """channel:ts of the newest message the bot posted (what Slack's container names)."""
        return list(self.api.messages)[-1]


def block_elements(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
