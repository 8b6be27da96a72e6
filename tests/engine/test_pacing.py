"""Pacing: token bucket per channel, interval per conversation, pauses after a 429."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from bot.app import new_engine
from bot.delivery import DeliveryWorker
from bot.engine import Engine
from bot.messages import DeliveryError, Outgoing, Recipient, SendResult
from bot.pacing import DEFAULT_LIMITS, MARGIN, PUBLISHED, Limits, Pacer, Slots, pacers
from storage.models import utcnow
from storage.notify import listen_outbox
from storage.outbox import Outbox, outbox_row
from tests.engine.test_delivery import Channel, rows
from tests.support.org import Org


class FakeTime:
    """A clock that moves only when the pacer sleeps, so waits are exact and instant."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_bucket_allows_a_burst_then_the_rate() -> None:
    t = FakeTime()
    pacer = Pacer(
        Limits(per_second=10, burst=3, per_conversation_interval=0), clock=t.clock, sleep=t.sleep
    )
    for i in range(8):
        await pacer.wait(f"user{i}")
    assert t.slept[:1] == [0.1] and len(t.slept) == 5  # 3 at once, then one per 0.1 s
    assert abs(t.now - 0.5) < 1e-9


async def test_one_conversation_is_spaced_and_others_are_not() -> None:
    t = FakeTime()
    pacer = Pacer(
        Limits(per_second=0, burst=0, per_conversation_interval=1.0), clock=t.clock, sleep=t.sleep
    )
    await pacer.wait("a")
    await pacer.wait("b")
    assert t.now == 0
    await pacer.wait("a")
    assert t.now == 1.0


async def test_pause_holds_the_channel_or_one_conversation() -> None:
    t = FakeTime()
    pacer = Pacer(Limits(0, 0, 0), clock=t.clock, sleep=t.sleep)
    pacer.pause(30, account="a")
    await pacer.wait("b")
    assert t.now == 0
    await pacer.wait("a")
    assert t.now == 30
    pacer.pause(5)
    assert pacer.paused_for() == 5
    await pacer.wait("c")
    assert t.now == 35


async def test_a_429_pauses_the_rest_of_the_batch(engine: Engine, org: Org, settings) -> None:
    for key in ("emp0", "emp2", "emp4"):
        await org.say(key, "hallo")
    channel = Channel([DeliveryError("429", retry_after=600)])
    # One send at a time, so none is in flight when the 429 arrives.
    worker = DeliveryWorker(engine.db, settings, {"console": channel}, concurrency=1)
    assert await worker.run_once() == 3
    statuses = [(r.status, r.attempts) for r in await rows(engine)]
    assert statuses == [("pending", 1), ("pending", 0), ("pending", 0)]  # released unsent
    assert channel.sent == []
    assert await worker.run_once() == 0  # the channel is paused


async def test_notify_wakes_a_worker_in_another_process(engine: Engine, org: Org) -> None:
    if engine.db.is_sqlite:
        # One process on SQLite: the engine sets the worker's event directly.
        await org.say("emp0", "hallo")
        assert engine.outbox_changed.is_set()
        return
    wake = asyncio.Event()
    async with listen_outbox(engine.db, wake):
        other = new_engine(engine.db, engine.settings)  # its own event: only NOTIFY can wake us
        await other.handle(org.incoming("emp0", "hallo"))
        await asyncio.wait_for(wake.wait(), timeout=5)


# -- the platforms' limits --------------------------------------------------------------------


def test_defaults_follow_the_platforms_published_limits() -> None:
    slack, teams, whatsapp = (DEFAULT_LIMITS[c] for c in ("slack", "teams", "whatsapp"))
    # Slack chat.postMessage: about 1 per second per conversation, short bursts allowed.
    assert slack.windows == ((3, 3.0),)
    # Teams, per bot and conversation: 7/1 s, 8/2 s, 60/30 s, 1800/h; 50 rps per tenant.
    assert teams.windows == ((7, 1.0), (8, 2.0), (60, 30.0), (1800, 3600.0))
    # Twilio WhatsApp: 80 messages per second per sender.
    assert PUBLISHED == {"slack": 20, "teams": 50, "whatsapp": 80} and whatsapp.windows == ()
    # Channel-wide, a little under the limit (jitter would make every early request a 429).
    for channel, limits in DEFAULT_LIMITS.items():
        assert limits.per_second == PUBLISHED[channel] * MARGIN
        assert limits.burst == int(limits.per_second)
    # ACHTERBAN_RATE_LIMITS sets a channel's rate per worker and keeps its per-chat limits.
    overridden = pacers({"teams": 25})["teams"].limits
    assert (overridden.per_second, overridden.windows) == (25, teams.windows)


async def sends(pacer: Pacer, t: FakeTime, account: str, n: int) -> list[float]:
    """The time each of `n` messages to `account` may go out."""
    times = []
    for _ in range(n):
        await pacer.wait(account)
        times.append(t.now)
    return times


async def test_slack_bursts_three_then_averages_one_per_second() -> None:
    t = FakeTime()
    pacer = Pacer(DEFAULT_LIMITS["slack"], clock=t.clock, sleep=t.sleep)
    assert await sends(pacer, t, "D1", 7) == [0, 0, 0, 3, 3, 3, 6]
    assert await sends(pacer, t, "D2", 1) == [6]  # another conversation: no wait


async def test_teams_windows_per_conversation() -> None:
    t = FakeTime()
    pacer = Pacer(DEFAULT_LIMITS["teams"], clock=t.clock, sleep=t.sleep)
    times = await sends(pacer, t, "a:1", 61)
    assert times[:7] == [0] * 7 and times[7] == 1 and times[8] == 2  # 7/1 s, then 8/2 s
    for count, seconds in DEFAULT_LIMITS["teams"].windows:
        for i in range(len(times) - count):
            assert times[i + count] - times[i] >= seconds - 1e-9  # no window ever exceeded
    assert times[60] >= 30  # the 61st waits for the 60-in-30-s window


async def test_a_waiting_conversation_does_not_hold_up_the_others() -> None:
    pacer = Pacer(Limits(per_second=0, burst=0, per_conversation_interval=0.5))
    await pacer.wait("a")
    second_to_a = asyncio.create_task(pacer.wait("a"))
    await asyncio.wait_for(pacer.wait("b"), timeout=0.2)
    assert not second_to_a.done()
    assert await second_to_a is True


async def test_a_long_pause_is_not_waited_out() -> None:
    t = FakeTime()
    pacer = Pacer(Limits(per_second=10, burst=1), clock=t.clock, sleep=t.sleep)
    pacer.pause(30)
    assert await pacer.wait("a", give_up_after=2) is False
    assert t.slept == [] and pacer.tokens == 1  # no slot taken
    pacer.pause(40, account="b")
    t.now = 31
    assert await pacer.wait("b", give_up_after=2) is False
    assert await pacer.wait("c", give_up_after=2) is True


async def test_slots_go_in_order_and_a_cancelled_waiter_passes_its_turn_on() -> None:
    slots = Slots(1)
    await slots.acquire()
    order: list[str] = []

    async def take(name: str) -> None:
        await slots.acquire()
        order.append(name)

    a, b, c = (asyncio.create_task(take(n)) for n in "abc")
    await asyncio.sleep(0)
    b.cancel()  # while waiting
    slots.release()
    await asyncio.sleep(0)
    slots.release()
    await asyncio.sleep(0)
    assert order == ["a", "c"] and b.cancelled()
    d, e = (asyncio.create_task(take(n)) for n in "de")
    await asyncio.sleep(0)
    slots.release()  # handed to d …
    d.cancel()  # … which is cancelled before it runs: e gets it
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert order == ["a", "c", "e"] and d.cancelled()
    slots.release()
    assert slots.taken == 0
    await asyncio.gather(a, c, e)


# -- the worker --------------------------------------------------------------------------------


async def test_a_conversation_429_pauses_only_that_conversation(
    engine: Engine, org: Org, settings
) -> None:
    for key in ("emp0", "emp2"):
        await org.say(key, "hallo")
    teams_429 = DeliveryError("Teams 429", retry_after=600, extra={"scope": "conversation"})
    channel = Channel([teams_429])
    worker = DeliveryWorker(engine.db, settings, {"console": channel}, concurrency=1)
    assert await worker.run_once() == 2
    first, second = await rows(engine)
    assert first.status == "pending" and first.last_error == "Teams 429"
    assert second.status == "sent"
    assert worker.pacers["console"].paused_for() == 0  # the channel goes on
    assert worker.pacers["console"].paused_for(first.account) > 590


async def test_one_persons_messages_go_one_at_a_time_in_order(
    engine: Engine, org: Org, settings
) -> None:
    async with engine.db.transaction() as session:
        services = engine.services(session)
        ids = [org.people["emp0"].id, org.people["emp2"].id]
        for n in range(5):
            await services.notify_many(ids, lambda p, n=n: Outgoing(f"{n}"))
    channel = Ordered()
    assert await DeliveryWorker(engine.db, settings, {"console": channel}).drain() == 10
    by_account: dict[str, list[str]] = {}
    for account, text in channel.sent:
        by_account.setdefault(account, []).append(text)
    assert all(texts == ["0", "1", "2", "3", "4"] for texts in by_account.values())
    assert channel.most_per_account == 1 and channel.most == 2  # the two people side by side


async def test_the_channel_rate_is_kept(engine: Engine, settings) -> None:
    async with engine.db.transaction() as session:
        await Outbox(session).add_many(
            [
                outbox_row("whatsapp", f"+3160000{i:04d}", None, Outgoing("x"), now=utcnow())
                for i in range(20)
            ]
        )
    slow = settings.model_copy(update={"rate_limits": {"whatsapp": 10}})
    sink = Channel()
    started = time.monotonic()
    assert await DeliveryWorker(engine.db, slow, {"whatsapp": sink}).drain() == 20
    # 10 at once (the burst), then one per 0.1 s.
    assert time.monotonic() - started >= 0.9 and len(sink.sent) == 20


class Ordered(Channel):
    """Records how many sends run at once, in all and per account."""

    def __init__(self) -> None:
        super().__init__(delay=0.01)
        self.now: Counter[str] = Counter()
        self.most = self.most_per_account = 0

    async def send(self, recipient: Recipient, rendered: str) -> SendResult:
        self.now[recipient.account] += 1
        self.most = max(self.most, sum(self.now.values()))
        self.most_per_account = max(self.most_per_account, self.now[recipient.account])
        try:
            return await super().send(recipient, rendered)
        finally:
            self.now[recipient.account] -= 1
