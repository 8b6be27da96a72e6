"""The delivery worker: retries with backoff, Retry-After, permanent failures, no double sends."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.delivery import DeliveryWorker, backoff, delivery_key
from bot.engine import Engine
from bot.messages import DeliveryError, Outgoing, Recipient, SendResult
from storage.models import OutboxMessage, utcnow
from storage.outbox import RowOutcome
from storage.outbox_worker import outbox_for
from tests.support.org import Org


class Channel:
    """A channel whose sends fail as scripted (a test adapter, not a patched function)."""

    channel = "console"

    def __init__(self, failures: list[DeliveryError] | None = None, delay: float = 0) -> None:
        self.failures = list(failures or [])
        self.sent: list[tuple[str, str]] = []
        self.delay = delay

    def render(self, outgoing: Outgoing) -> str:
        return outgoing.text

    async def send(self, recipient: Recipient, rendered: str) -> SendResult:
        await asyncio.sleep(self.delay)
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((recipient.account, rendered))
        return SendResult(f"m{len(self.sent)}")

    async def fetch_media(self, ref):  # type: ignore[no-untyped-def]
        return b""


async def rows(engine: Engine) -> list[OutboxMessage]:
    async with engine.db.transaction(read_only=True) as session:
        return list(
            (await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars()
        )


async def test_transient_failure_is_retried_with_backoff(
    engine: Engine, org: Org, settings
) -> None:
    await org.say("emp0", "hallo")
    channel = Channel([DeliveryError("HTTP 503")])
    worker = DeliveryWorker(engine.db, settings, {"console": channel}, clock=engine.clock)
    assert await worker.run_once() == 1
    [row] = await rows(engine)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 503")
    assert row.next_attempt_at > row.created_at
    await asyncio.sleep(0.05)  # backoff base is 10 ms in tests
    assert await worker.drain() == 1
    [row] = await rows(engine)
    assert row.status == "sent" and row.platform_message_id == "m1" and row.payload is None


async def test_retry_after_is_honoured(engine: Engine, org: Org, settings) -> None:
    await org.say("emp0", "hallo")
    channel = Channel([DeliveryError("429", retry_after=3600)])
    worker = DeliveryWorker(engine.db, settings, {"console": channel})
    await worker.run_once()
    [row] = await rows(engine)
    wait = row.next_attempt_at - row.created_at
    assert timedelta(minutes=59) < wait < timedelta(minutes=61)
    assert await worker.drain() == 0  # not due yet


async def test_permanent_failure_and_attempt_limit(engine: Engine, org: Org, settings) -> None:
    await org.say("emp0", "hallo")
    await org.say("emp2", "hallo")
    channel = Channel([DeliveryError("user blocked the bot", permanent=True)])
    limited = settings.model_copy(update={"delivery_max_attempts": 2})
    worker = DeliveryWorker(engine.db, limited, {"console": channel})
    await worker.run_once()
    first, second = await rows(engine)
    assert (first.status, first.last_error, first.payload) == (
        "failed",
        "user blocked the bot",
        None,
    )
    assert second.status == "sent"
    await org.say("emp4", "hallo")
    channel.failures = [DeliveryError("timeout"), DeliveryError("timeout")]
    await worker.run_once()
    await asyncio.sleep(0.05)
    await worker.drain()
    assert (await rows(engine))[-1].status == "failed"


async def test_two_workers_never_send_the_same_row(engine: Engine, org: Org, settings) -> None:
    for key in org.people:
        await org.say(key, "hallo")
    channel = Channel(delay=0.005)
    small = settings.model_copy(update={"delivery_batch_size": 3})
    workers = [DeliveryWorker(engine.db, small, {"console": channel}) for _ in range(4)]
    await asyncio.gather(*(w.drain() for w in workers))
    accounts = [account for account, _ in channel.sent]
    assert len(accounts) == len(org.people) == len(set(accounts))


async def test_worker_only_claims_its_channels_and_accounts(
    engine: Engine, org: Org, settings
) -> None:
    await org.say("emp0", "hallo")
    await org.say("emp2", "hallo")
    channel = Channel()
    only_emp2 = DeliveryWorker(
        engine.db, settings, {"console": channel}, accounts=["emp2@example.org"]
    )
    assert await only_emp2.drain() == 1
    assert channel.sent[0][0] == "emp2@example.org"
    other_channel = DeliveryWorker(engine.db, settings, {"slack": channel})
    assert await other_channel.drain() == 0


def test_backoff_grows_and_is_capped() -> None:
    assert backoff(1, 2.0) <= timedelta(seconds=3)
    assert timedelta(seconds=8) <= backoff(4, 2.0) <= timedelta(seconds=24)
    assert backoff(40, 2.0) == timedelta(hours=1)


# -- crashes, leases and lookups ---------------------------------------------------------------


class Looking(Channel):
    """A channel whose platform can be asked whether it has a message (Reconcilable)."""

    def __init__(self, has: dict[str, SendResult] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.has = has or {}
        self.keys: list[str] = []
        self.lookups: list[tuple[str, datetime]] = []
        self.lookup_failure: DeliveryError | None = None
        self.lookup_delay = 0.0

    async def send(self, recipient: Recipient, rendered: str, *, key: str = "") -> SendResult:
        self.keys.append(key)
        return await super().send(recipient, rendered)

    async def reconcile(
        self, recipient: Recipient, rendered: str, key: str, since: datetime
    ) -> SendResult | None:
        self.lookups.append((key, since))
        await asyncio.sleep(self.lookup_delay)
        if self.lookup_failure is not None:
            raise self.lookup_failure
        return self.has.get(key)


async def claimed_by_a_dead_worker(engine: Engine, *, sending: bool) -> OutboxMessage:
    """What a worker that died now leaves: its claim, and (sending) the mark before a send."""
    now, lease = utcnow(), timedelta(minutes=5)
    outbox = outbox_for(engine.db)
    (row,) = await outbox.claim(["console"], now=now, limit=1, lease=lease)
    if sending:
        marks = [(row.id, row.claimed_at)]
        assert await outbox.write(marks, [], now=now, lease=lease) == {row.id}
    async with engine.db.transaction(read_only=True) as session:
        return (await session.execute(select(OutboxMessage).filter_by(id=row.id))).scalar_one()


def after_the_lease(settings: Any, extra: timedelta = timedelta(0)) -> Any:
    lease = timedelta(seconds=settings.delivery_lease_seconds)
    return lambda: utcnow() + lease * 1.1 + extra


async def test_a_dead_workers_claimed_row_is_sent_after_the_lease_without_lookup(
    engine: Engine, org: Org, settings
) -> None:
    await org.say("emp0", "hallo")
    row = await claimed_by_a_dead_worker(engine, sending=False)
    assert row.status == "claimed"
    channel = Looking()
    assert await DeliveryWorker(engine.db, settings, {"console": channel}).drain() == 0
    later = DeliveryWorker(
        engine.db, settings, {"console": channel}, clock=after_the_lease(settings)
    )
    assert await later.drain() == 1
    assert channel.lookups == [] and channel.keys == [delivery_key(row)]
    assert (await rows(engine))[0].status == "sent"


async def test_a_row_in_doubt_is_looked_up_first(engine: Engine, org: Org, settings) -> None:
    await org.say("emp0", "hallo")
    await org.say("emp2", "hallo")
    first = await claimed_by_a_dead_worker(engine, sending=True)
    second = await claimed_by_a_dead_worker(engine, sending=True)
    # The platform has the first (its id is recorded, nothing is sent), not the second.
    channel = Looking({delivery_key(first): SendResult("m-first")})
    restarted = DeliveryWorker(
        engine.db, settings, {"console": channel}, clock=after_the_lease(settings)
    )
    assert await restarted.drain() == 2
    assert [key for key, _ in channel.lookups] == [delivery_key(first), delivery_key(second)]
    assert channel.lookups[0][1] == first.next_attempt_at  # searched from the send's start
    assert [account for account, _ in channel.sent] == [second.account]
    done = await rows(engine)
    assert [(r.status, r.platform_message_id) for r in done] == [
        ("sent", "m-first"),
        ("sent", "m1"),
    ]


async def test_a_slow_lookup_that_finds_nothing_still_leaves_time_to_send(
    engine: Engine, org: Org, settings
) -> None:
    """The lookup took longer than the part of the lease a send may start in: the row is
    marked again after it, and sent, not handed back to be looked up for ever."""
    await org.say("emp0", "hallo")
    await claimed_by_a_dead_worker(engine, sending=True)
    short = settings.model_copy(update={"delivery_lease_seconds": 1.2})
    channel = Looking()
    channel.lookup_delay = 0.5  # more than a quarter of the lease
    worker = DeliveryWorker(
        engine.db, short, {"console": channel}, clock=lambda: utcnow() + timedelta(minutes=6)
    )
    assert await asyncio.wait_for(worker.run_once(), 10) == 1
    [row] = await rows(engine)
    assert row.status == "sent" and len(channel.lookups) == 1 and len(channel.sent) == 1


async def test_a_failed_lookup_leaves_the_row_in_doubt_and_the_channel_open(
    engine: Engine, org: Org, settings
) -> None:
    await org.say("emp0", "hallo")
    await claimed_by_a_dead_worker(engine, sending=True)
    channel = Looking()
    channel.lookup_failure = DeliveryError("slack conversations.history: 429", retry_after=30)
    clock = after_the_lease(settings)
    worker = DeliveryWorker(engine.db, settings, {"console": channel}, clock=clock)
    assert await worker.run_once() == 1
    [row] = await rows(engine)
    assert row.status == "sending" and "lookup failed" in (row.last_error or "")
    assert channel.sent == [] and worker.pacers["console"].paused_for() == 0
    assert await worker.drain() == 0  # asked again in 30 s, not before
    in_31_s = after_the_lease(settings, timedelta(seconds=31))
    retry = DeliveryWorker(engine.db, settings, {"console": Looking()}, clock=in_31_s)
    assert await retry.drain() == 1
    assert (await rows(engine))[0].status == "sent"


async def test_a_person_waits_while_their_earlier_message_is_in_doubt(
    engine: Engine, org: Org, settings
) -> None:
    await org.say("emp0", "hallo")
    await claimed_by_a_dead_worker(engine, sending=True)
    await org.say("emp0", "nog een keer")
    await org.say("emp2", "hallo")
    channel = Channel()
    assert await DeliveryWorker(engine.db, settings, {"console": channel}).drain() == 1
    assert [account for account, _ in channel.sent] == ["emp2@example.org"]


async def test_a_row_taken_over_is_never_written_by_the_first_worker(
    engine: Engine, org: Org
) -> None:
    await org.say("emp0", "hallo")
    lease = timedelta(minutes=5)
    t0 = utcnow()
    outbox = outbox_for(engine.db)
    (mine,) = await outbox.claim(["console"], now=t0, limit=1, lease=lease)
    # The lease ran out; another worker.
    (theirs,) = await outbox.claim(["console"], now=t0 + lease * 2, limit=1, lease=lease)
    assert mine.id == theirs.id and mine.claimed_at != theirs.claimed_at
    marks = [(mine.id, mine.claimed_at)]
    assert await outbox.write(marks, [], now=utcnow(), lease=lease) == set()
    late = RowOutcome("sent", mine.id, mine.claimed_at, platform_message_id="stale")
    await outbox.write([], [late], now=utcnow(), lease=lease)
    [row] = await rows(engine)
    assert (row.status, row.platform_message_id, row.attempts) == ("claimed", None, 2)


async def test_an_adapter_error_that_may_have_arrived_is_in_doubt(
    engine: Engine, org: Org, settings
) -> None:
    await org.say("emp0", "hallo")
    channel = Looking(failures=[DeliveryError("timeout", extra={"in_doubt": True})])
    worker = DeliveryWorker(engine.db, settings, {"console": channel})
    await worker.run_once()
    [row] = await rows(engine)
    assert row.status == "sending" and row.last_error == "timeout"
    await asyncio.sleep(0.05)
    assert await worker.drain() == 1
    assert len(channel.lookups) == 1 and len(channel.sent) == 1


async def test_a_row_marked_too_long_before_its_send_slot_goes_back_unsent(
    engine: Engine, org: Org, settings
) -> None:
    await org.say("emp0", "hallo")
    await org.say("emp2", "hallo")
    # One send at a time, taking 0.8 s: the second row is marked while the first is on its
    # way, and its slot comes after a quarter of the lease (0.3 s) has passed.
    short = settings.model_copy(update={"delivery_lease_seconds": 1.2})
    channel = Channel(delay=0.8)
    worker = DeliveryWorker(engine.db, short, {"console": channel}, concurrency=1)
    assert await worker.run_once() == 2
    first, second = await rows(engine)
    assert [account for account, _ in channel.sent] == [first.account]
    assert (first.status, second.status, second.attempts) == ("sent", "pending", 0)
    assert await worker.drain() == 1
    assert [account for account, _ in channel.sent] == [first.account, second.account]
