"""The delivery worker: retries with backoff, Retry-After, permanent failures, no double sends."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from bot.delivery import DeliveryWorker, backoff
from bot.engine import Engine
from bot.messages import DeliveryError, Outgoing, Recipient, SendResult
from storage.models import OutboxMessage
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
