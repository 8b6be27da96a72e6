"""Pacing: token bucket per channel, interval per conversation, pauses after a 429."""

from __future__ import annotations

import asyncio

from bot.delivery import DeliveryWorker
from bot.engine import Engine
from bot.messages import DeliveryError
from bot.pacing import Limits, Pacer
from storage.notify import listen_outbox
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
    worker = DeliveryWorker(engine.db, settings, {"console": channel})
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
        other = Engine(engine.db, engine.settings)  # its own event: only NOTIFY can wake us
        await other.handle(org.incoming("emp0", "hallo"))
        await asyncio.wait_for(wake.wait(), timeout=5)
