"""Per-platform pacing for the delivery worker.

Defaults follow the platforms' published limits (see shared/PLATFORMS.md): Slack
chat.postMessage about one message per second per conversation with short bursts; Teams 7
messages per second per conversation and 50 requests per second per app and tenant; Twilio
WhatsApp 80 messages per second per sender. The limits are per worker process: with M workers,
divide the channel rates by M (ACHTERBAN_RATE_LIMITS).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    per_second: float  # channel-wide messages per second (token bucket)
    burst: int  # bucket size
    per_conversation_interval: float  # minimum seconds between two messages to one account


UNLIMITED = Limits(per_second=0, burst=0, per_conversation_interval=0)
DEFAULT_LIMITS: dict[str, Limits] = {
    "slack": Limits(per_second=20, burst=20, per_conversation_interval=1.0),
    "teams": Limits(per_second=50, burst=50, per_conversation_interval=1 / 7),
    "whatsapp": Limits(per_second=80, burst=80, per_conversation_interval=0),
}


class Pacer:
    """A token bucket per channel, a minimum interval per conversation, and pauses (429)."""

    def __init__(
        self,
        limits: Limits,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limits = limits
        self.clock = clock
        self.sleep = sleep
        self.tokens = float(limits.burst)
        self.updated = clock()
        self.paused_until = 0.0
        self.next_for_account: dict[str, float] = {}
        self._lock = asyncio.Lock()

    def pause(self, seconds: float, account: str | None = None) -> None:
        """A 429: hold the whole channel (or one conversation) for `seconds`."""
        until = self.clock() + seconds
        if account is None:
            self.paused_until = max(self.paused_until, until)
        else:
            self.next_for_account[account] = max(self.next_for_account.get(account, 0), until)

    def paused_for(self) -> float:
        return max(0.0, self.paused_until - self.clock())

    async def wait(self, account: str) -> None:
        """Wait until a message to `account` may go out, then take its slot."""
        async with self._lock:
            while True:
                delay = max(self.paused_for(), self.next_for_account.get(account, 0) - self.clock())
                delay = max(delay, self._bucket_delay())
                if delay <= 0:
                    break
                await self.sleep(delay)
            if self.limits.per_second > 0:
                self.tokens -= 1
            if self.limits.per_conversation_interval > 0:
                self.next_for_account[account] = (
                    self.clock() + self.limits.per_conversation_interval
                )
                if len(self.next_for_account) > 100_000:  # forget conversations long past
                    now = self.clock()
                    self.next_for_account = {
                        a: t for a, t in self.next_for_account.items() if t > now
                    }

    def _bucket_delay(self) -> float:
        if self.limits.per_second <= 0:
            return 0.0
        now = self.clock()
        self.tokens = min(
            float(self.limits.burst), self.tokens + (now - self.updated) * self.limits.per_second
        )
        self.updated = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.limits.per_second


def pacers(overrides: dict[str, float]) -> dict[str, Pacer]:
    """A Pacer per channel; `overrides` sets a channel's messages per second."""
    out = {}
    for channel, limits in DEFAULT_LIMITS.items():
        rate = overrides.get(channel)
        if rate is not None:
            limits = Limits(rate, max(1, int(rate)), limits.per_conversation_interval)
        out[channel] = Pacer(limits)
    return out
