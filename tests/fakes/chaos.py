"""Fake platform APIs for delivery tests and the fan-out bench: the fakes of tests/fakes
(Slack, the Bot Connector, Twilio — real HTTP on loopback) extended with what delivery needs.

- `Chaos`: faults drawn from a seeded random source (429 with Retry-After, 503, slow answers),
  the platform's rate limit (429 when a token bucket at that rate is empty), and a hold: after
  `hold_after` accepted messages, accepted messages are not answered until `released` — what
  a worker killed mid-send leaves behind. It notes when each message was accepted.
- Slack's conversations.history with message metadata, and Twilio's message list (GET
  Messages.json filtered by To and From), which the delivery lookups use.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from bot.config import Settings
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import SIGNING_SECRET, TOKEN, FakeSlackApi
from tests.fakes.twilio_api import FakeTwilio

APP_ID = "a1b2c3d4-0000-4000-8000-00000000d311"
APP_PASSWORD = "app-password-for-delivery-tests"
TENANT = "72f988bf-0000-4000-8000-00000000d311"
ACCOUNT_SID = "AC" + "d3" * 16
AUTH_TOKEN = "twilio-auth-token-for-delivery"
SENDER = "whatsapp:+14155238886"
MARKER = re.compile(r"#(\d+)\b")
CHANNELS = ("slack", "teams", "whatsapp")


@dataclass
class Chaos:
    """What a fake does besides answering: faults drawn from a seeded random source, a rate
    limit like the platform's (429 when its token bucket is empty), and a hold: after
    `hold_after` accepted messages, accepted messages are not answered until `released`
    (what a worker killed mid-send leaves behind). It notes when each message was accepted."""

    too_many: float = 0.0  # 429 with Retry-After
    broken: float = 0.0  # 503
    slow: float = 0.0  # answered `slow_seconds` late
    slow_seconds: float = 0.2
    retry_after: int = 1
    seed: int = 5
    per_second: float | None = None  # the platform's limit
    hold_after: int | None = None
    released: threading.Event = field(default_factory=threading.Event)
    accepted: int = 0
    held: int = 0
    limited: int = 0  # 429s for going over `per_second`
    injected: int = 0  # 429s drawn at random (`too_many`)
    times: list[float] = field(default_factory=list)
    rng: random.Random = field(init=False)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _tokens: float = 0.0
    _updated: float = 0.0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self._tokens, self._updated = float(self.per_second or 0), time.monotonic()

    def roll(self) -> str | None:
        with self.lock:
            if self.per_second and not self._take():
                self.limited += 1
                return "429"
            x = self.rng.random()
            self.injected += x < self.too_many
        if x < self.too_many:
            return "429"
        if x < self.too_many + self.broken:
            return "5xx"
        if x < self.too_many + self.broken + self.slow:
            return "slow"
        return None

    def _take(self) -> bool:
        assert self.per_second
        now = time.monotonic()
        self._tokens = min(self.per_second, self._tokens + (now - self._updated) * self.per_second)
        self._updated = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    async def after_accept(self) -> None:
        with self.lock:
            self.accepted += 1
            self.times.append(time.monotonic())
            hold = self.hold_after is not None and self.accepted > self.hold_after
            self.held += hold
        if not hold:
            return
        for _ in range(1500):  # at most 30 s: the client is usually dead by then
            if self.released.is_set():
                return
            await asyncio.sleep(0.02)


@dataclass
class ChaosSlack(FakeSlackApi):
    chaos: Chaos = field(default_factory=Chaos)

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        posting = method == "chat.postMessage"
        if posting:
            fault = self.chaos.roll()
            if fault == "429":
                self.fail(method, status=429, retry_after=self.chaos.retry_after)
            elif fault == "5xx":
                self.fail(method, status=503)
            elif fault == "slow":
                await asyncio.sleep(self.chaos.slow_seconds)
        response = await super()._api(request)
        if posting and response.status == 200 and json.loads(response.body)["ok"]:  # type: ignore[arg-type]
            await self.chaos.after_accept()
        return response

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        out = super()._chat_postMessage(args)
        if args.get("metadata"):
            self.messages[f"{out['channel']}:{out['ts']}"]["metadata"] = args["metadata"]
        return out

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        """Newest first, from `oldest` on; metadata only with include_all_metadata."""
        channel, oldest = str(args.get("channel")), float(args.get("oldest") or 0)
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        found = []
        for key, message in self.messages.items():
            if key.split(":", 1)[0] == channel and float(message["ts"]) >= oldest:
                shown = {"type": "message", "ts": message["ts"], "text": message["text"]}
                if with_metadata and message.get("metadata"):
                    shown["metadata"] = message["metadata"]
                found.append(shown)
        found.sort(key=lambda m: float(m["ts"]), reverse=True)
        return {"ok": True, "messages": found, "has_more": False}

    def texts(self) -> list[str]:
        return [str(m["text"]) for m in self.messages.values()]


@dataclass
class ChaosConnector(FakeBotConnector):
    chaos: Chaos = field(default_factory=Chaos)

    async def _activity(self, request: web.Request) -> web.Response:
        fault = self.chaos.roll()
        if fault == "429":
            self.fail_next(429, retry_after=self.chaos.retry_after)
        elif fault == "5xx":
            self.fail_next(503)
        elif fault == "slow":
            await asyncio.sleep(self.chaos.slow_seconds)
        response = await super()._activity(request)
        if response.status in (200, 201):
            await self.chaos.after_accept()
        return response

    def texts(self) -> list[str]:
        return [str(a.get("summary", "")) for a in self.activities]


@dataclass
class ChaosTwilio(FakeTwilio):
    """FakeTwilio with the message list (GET Messages.json, filtered by To and From)."""

    chaos: Chaos = field(default_factory=Chaos)
    created: list[dict[str, Any]] = field(default_factory=list)
    script: dict[int, int] = field(default_factory=dict)  # n-th POST → status to answer

    async def start(self) -> ChaosTwilio:
        api = web.Application()
        path = "/2010-04-01/Accounts/{sid}/Messages.json"
        api.router.add_post(path, self._create_message)
        api.router.add_get(path, self._list_messages)
        self.api = TestServer(api, host="127.0.0.1")
        await self.api.start_server()
        return self

    async def _create_message(self, request: web.Request) -> web.Response:
        fault = self.chaos.roll()
        if self.attempts + 1 in self.script:
            self.fail_next(self.script[self.attempts + 1])
        elif fault == "429":
            self.fail_next(429, retry_after=str(self.chaos.retry_after))
        elif fault == "5xx":
            self.fail_next(503)
        elif fault == "slow":
            await asyncio.sleep(self.chaos.slow_seconds)
        response = await super()._create_message(request)
        if response.status == 201:
            resource = json.loads(response.body)  # type: ignore[arg-type]
            form = self.sent[self.sent_sids.index(resource["sid"])]
            if "ContentVariables" in form:  # what Twilio shows of a template: its text
                summary = json.loads(form["ContentVariables"]).get("1", "")
                resource["body"] = f"Er staat een nieuw bericht voor je klaar: {summary}"
            resource["status"] = "sent"
            self.created.append(resource)
            await self.chaos.after_accept()
        return response

    async def _list_messages(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._error(401, 20003)
        to, sender = request.query.get("To"), request.query.get("From")
        size = int(request.query.get("PageSize", "50"))
        hits = [m for m in reversed(self.created) if m["to"] == to and m["from"] == sender]
        uri = request.path_qs
        return web.json_response(
            {
                "messages": hits[:size], "page": 0, "page_size": size, "start": 0,
                "end": max(0, min(size, len(hits)) - 1), "uri": uri, "first_page_uri": uri,
                "next_page_uri": None, "previous_page_uri": None,
            }
        )  # fmt: skip

    def texts(self) -> list[str]:
        return [str(m["body"]) for m in self.created]


@dataclass
class Fakes:
    slack: ChaosSlack
    teams: ChaosConnector
    whatsapp: ChaosTwilio

    @property
    def all(self) -> tuple[ChaosSlack, ChaosConnector, ChaosTwilio]:
        return self.slack, self.teams, self.whatsapp

    def settings(self, base: Settings, **update: Any) -> Settings:
        return base.model_copy(
            update={
                "slack_bot_token": SecretStr(TOKEN),
                "slack_signing_secret": SecretStr(SIGNING_SECRET),
                "slack_api_url": self.slack.api_url,
                "microsoft_app_id": APP_ID,
                "microsoft_app_password": SecretStr(APP_PASSWORD),
                "teams_login_url": self.teams.login_url,
                "twilio_account_sid": ACCOUNT_SID,
                "twilio_auth_token": SecretStr(AUTH_TOKEN),
                "twilio_whatsapp_from": SENDER,
                "twilio_api_url": self.whatsapp.url,
                **update,
            }
        )

    def environment(self) -> dict[str, str]:
        """The same, for a worker process (platform names and ACHTERBAN_ variables)."""
        return {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "ACHTERBAN_SLACK_API_URL": self.slack.api_url,
            "MicrosoftAppId": APP_ID,
            "MicrosoftAppPassword": APP_PASSWORD,
            "ACHTERBAN_TEAMS_LOGIN_URL": self.teams.login_url,
            "REQUESTS_CA_BUNDLE": self.teams.ca_file,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_WHATSAPP_FROM": SENDER,
            "ACHTERBAN_TWILIO_API_URL": self.whatsapp.url,
        }

    def copies(self) -> dict[str, Counter[int]]:
        """Per channel: person id → how many messages the platform accepted for them."""
        return {
            fake_channel: Counter(int(m.group(1)) for t in fake.texts() if (m := MARKER.search(t)))
            for fake_channel, fake in zip(CHANNELS, self.all, strict=True)
        }

    def accepted(self) -> int:
        return sum(len(fake.texts()) for fake in self.all)


@asynccontextmanager
async def running_fakes(tmp: Path, chaos: dict[str, Chaos] | None = None) -> AsyncIterator[Fakes]:
    chaos = chaos or {}
    slack = await ChaosSlack(chaos=chaos.get("slack", Chaos())).start()
    twilio = ChaosTwilio(ACCOUNT_SID, AUTH_TOKEN, chaos=chaos.get("whatsapp", Chaos()))
    await twilio.start()
    connector = ChaosConnector(APP_ID, APP_PASSWORD, chaos=chaos.get("teams", Chaos()))
    try:
        with connector.serve(tmp):
            yield Fakes(slack, connector, twilio)
    finally:
        for fake in (slack, connector, twilio):
            fake.chaos.released.set()
        await slack.stop()
        await twilio.close()


@contextmanager
def trusting(ca_file: str) -> Iterator[None]:
    """MSAL (requests) must trust the fake login server's test CA, in this process."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REQUESTS_CA_BUNDLE", ca_file)
        yield
