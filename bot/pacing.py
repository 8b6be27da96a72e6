"""Per-platform pacing for the delivery worker.

Defaults follow the platforms' published limits (shared/PLATFORMS.md):

- Slack chat.postMessage: about one message per second per conversation, short bursts
  allowed — paced as at most 3 messages in any 3 seconds per conversation. The workspace-wide
  limit is not published; 20 per second per worker is a guess that a 429 corrects.
- Teams: per bot and conversation 7 in 1 s, 8 in 2 s, 60 in 30 s and 1800 in an hour; 50
  requests per second per app and tenant.
- WhatsApp through Twilio: 80 messages per second per sender.

Channel-wide rates are paced at 95 % of the limit: a sender at exactly the limit gets a 429
for every request that arrives a little early (network jitter), and each 429 costs a pause.
Limits are per worker process: with M workers, give each 1/M of a channel's rate through
ACHTERBAN_RATE_LIMITS. A 429 pauses the whole channel, or only one conversation when the
platform limits per conversation (Teams).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

# (messages, seconds): at most that many messages to one conversation in any such interval.
Window = tuple[int, float]


@dataclass(frozen=True, slots=True)
class Limits:
    per_second: float  # channel-wide messages per second (token bucket); 0: unlimited
    burst: int  # bucket size
    per_conversation_interval: float = 0.0  # minimum seconds between two messages to one account
    conversation_windows: tuple[Window, ...] = ()

    @property
    def windows(self) -> tuple[Window, ...]:
        """Every per-conversation limit as sliding windows (an interval is 1 per interval)."""
        extra: tuple[Window, ...] = (
            ((1, self.per_conversation_interval),) if self.per_conversation_interval > 0 else ()
        )
        return extra + self.conversation_windows


UNLIMITED = Limits(per_second=0, burst=0)
# Messages per second per channel as the platforms publish them (Slack: assumed, see above).
PUBLISHED = {"slack": 20.0, "teams": 50.0, "whatsapp": 80.0}
MARGIN = 0.95
DEFAULT_LIMITS: dict[str, Limits] = {
    "slack": Limits(PUBLISHED["slack"] * MARGIN, 19, conversation_windows=((3, 3.0),)),
    "teams": Limits(
        PUBLISHED["teams"] * MARGIN,
        47,
        conversation_windows=((7, 1.0), (8, 2.0), (60, 30.0), (1800, 3600.0)),
    ),
    "whatsapp": Limits(PUBLISHED["whatsapp"] * MARGIN, 76),
}
# How often (in waits) conversations whose windows have all passed are forgotten.
_PRUNE_EVERY = 10_000


class Pacer:
    """A token bucket per channel, sliding windows per conversation, and pauses (429).

    A conversation that must wait does not hold up the others: only the channel-wide bucket
    is taken under the lock, which every sender needs anyway.
    """

    def __init__(
        self,
        limits: Limits,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limits = limits
        self.windows = limits.windows
        self.horizon = max((seconds for _, seconds in self.windows), default=0.0)
        self.depth = max((count for count, _ in self.windows), default=0)
        self.clock = clock
        self.sleep = sleep
        self.tokens = float(limits.burst)
        self.updated = clock()
        self.paused_until = 0.0
        self.account_paused_until: dict[str, float] = {}
        self.sent_to: dict[str, deque[float]] = {}
        self._lock = asyncio.Lock()
        self._waits = 0

    def pause(self, seconds: float, account: str | None = None) -> None:
        """A 429: hold the whole channel (or one conversation) for `seconds`."""
        until = self.clock() + seconds
        if account is None:
            self.paused_until = max(self.paused_until, until)
        else:
            current = self.account_paused_until.get(account, 0.0)
            self.account_paused_until[account] = max(current, until)

    def paused_for(self, account: str | None = None) -> float:
        """Seconds until the channel (and, given an account, that conversation) may send."""
        until = self.paused_until
        if account is not None:
            until = max(until, self.account_paused_until.get(account, 0.0))
        return max(0.0, until - self.clock())

    def conversation_delay(self, account: str) -> float:
        """Seconds until `account`'s windows allow one more message."""
        now = self.clock()
        delay = self.account_paused_until.get(account, 0.0) - now
        times = self.sent_to.get(account)
        if times:
            for count, seconds in self.windows:
                if len(times) >= count:
                    delay = max(delay, times[-count] + seconds - now)
        return max(0.0, delay)

    async def wait(self, account: str, *, give_up_after: float | None = None) -> bool:
        """Wait until a message to `account` may go out, then take its slot.

        With `give_up_after`, a pause (429) longer than that is not waited out: False, and
        no slot is taken, so the caller can give the message back instead of holding it.
        """
        if not await self.conversation_ready(account, give_up_after=give_up_after):
            return False
        if self.limits.per_second <= 0 and self.paused_for() <= 0:
            # No bucket to share: no lock to queue on.
            if self.windows:
                self._record(account)
            return True
        async with self._lock:
            while True:
                pause = self.paused_for()
                if give_up_after is not None and pause > give_up_after:
                    return False
                delay = max(pause, self._bucket_delay())
                if delay <= 0:
                    break
                await self.sleep(delay)
            if self.limits.per_second > 0:
                self.tokens -= 1
            if self.windows:
                self._record(account)
        return True

    async def conversation_ready(self, account: str, *, give_up_after: float | None = None) -> bool:
        """Wait until `account`'s own limits allow a message (False: paused too long). The
        worker waits here before it takes one of its send slots."""
        while (delay := self.conversation_delay(account)) > 0:
            if give_up_after is not None and self.paused_for(account) > give_up_after:
                return False
            await self.sleep(delay)
        return True

    async def wait_out_pause(self, account: str, *, give_up_after: float) -> bool:
        """Wait out a pause (429) that came in after `wait`; False when it is longer than
        `give_up_after` (the caller gives the message back)."""
        while (pause := self.paused_for(account)) > 0:
            if pause > give_up_after:
                return False
            await self.sleep(pause)
        return True

    def sending(self, account: str) -> None:
        """The message `wait` let through leaves now: its conversation's windows count from
        this moment (the worker marks it `sending` in between)."""
        times = self.sent_to.get(account)
        if times:
            times[-1] = self.clock()

    def _record(self, account: str) -> None:
        times = self.sent_to.get(account)
        if times is None:
            times = self.sent_to[account] = deque(maxlen=self.depth)
        times.append(self.clock())
        self._waits += 1
        if self._waits % _PRUNE_EVERY == 0:
            self._prune()

    def _prune(self) -> None:
        """Forget conversations whose every window has passed (memory stays bounded)."""
        now = self.clock()
        self.sent_to = {a: t for a, t in self.sent_to.items() if t and t[-1] > now - self.horizon}
        self.account_paused_until = {
            a: until for a, until in self.account_paused_until.items() if until > now
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


class Slots:
    """At most `size` holders at once, served in order.

    asyncio.Semaphore would do, but in Python 3.11 each acquire walks all its waiters
    (`locked()`), and a worker has hundreds of rows waiting for a slot.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.taken = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self.taken < self.size and not self._waiters:
            self.taken += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter  # release() hands its slot over: `taken` stays as it is
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed over just as we were cancelled: pass it on
            raise

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.taken -= 1

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *_exc: object) -> None:
        self.release()


def pacers(overrides: dict[str, float]) -> dict[str, Pacer]:
    """A Pacer per channel; `overrides` sets a channel's messages per second (0: unlimited)."""
    out = {}
    for channel, limits in DEFAULT_LIMITS.items():
        rate = overrides.get(channel)
        if rate is not None:
            limits = Limits(
                rate,
                max(1, int(rate)),
                limits.per_conversation_interval,
                limits.conversation_windows,
            )
        out[channel] = Pacer(limits)
    return out
