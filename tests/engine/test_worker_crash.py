"""Exactly-once effect when a worker dies: rows marked `sending` before their request leaves
are looked up on the platform (Slack by the key in the message metadata, WhatsApp in Twilio's
message list) before anything is sent again; Teams has no lookup, so a Teams message that was
on its way is sent again — the one window docs/delivery.md describes.

The process tests run `python -c "…worker_main()"`: the real runtime (build_runtime) as
`achterban worker` builds it, with the reconciling adapters, against the fakes of
tests/fakes/chaos.py served from this process (the Bot Connector in its own thread).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from adapters.reconcile import ReconcilingSlackAdapter, ReconcilingWhatsAppAdapter
from adapters.teams import TeamsAdapter
from bot.app import build_runtime, new_engine
from bot.cli.common import fast_event_loop, settle_garbage_collector
from bot.config import Settings
from bot.delivery import DeliveryWorker
from bot.engine import Engine
from bot.messages import Outgoing, Recipient, SendResult
from storage.db import Database
from storage.migrate import upgrade_async
from storage.models import OutboxMessage, utcnow
from tests.engine.test_delivery_scale import (
    FAST,
    queue_news,
    seed,
    statuses,
    wait_until_delivered,
)
from tests.fakes.chaos import CHANNELS, Chaos, Fakes, running_fakes, trusting
from tests.support.databases import create_pg_database, drop_pg_database

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = 2000


def worker_main() -> None:
    """A worker process: `achterban worker`'s runtime, delivering with the lookups."""
    from adapters.reconcile import reconciling

    async def work() -> None:
        settings = Settings()
        runtime = build_runtime(settings)
        worker = DeliveryWorker(runtime.db, settings, reconciling(runtime.adapters, settings))
        settle_garbage_collector()
        print("ready", flush=True)
        await worker.run(asyncio.Event(), idle_seconds=0.2)

    with asyncio.Runner(loop_factory=fast_event_loop) as runner:  # as `achterban worker`
        runner.run(work())


@asynccontextmanager
async def worker_process(
    env: dict[str, str], log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    with log.open("ab") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", f"from {__name__} import worker_main; worker_main()",
            cwd=ROOT, env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE, stderr=err,
        )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


def worker_env(fakes: Fakes, database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **fakes.environment(),
        "ACHTERBAN_DATABASE_URL": database_url,
        "ACHTERBAN_DATA_DIR": str(data_dir),
        "ACHTERBAN_SECRET_KEY": "worker-crash-test-secret-key-long-enough-for-it",
        "ACHTERBAN_DELIVERY_LEASE_SECONDS": "2",
        "ACHTERBAN_DELIVERY_BACKOFF_SECONDS": "0.05",
        "ACHTERBAN_DELIVERY_BATCH_SIZE": "100",
        # Pacing is tested on its own (test_pacing.py); here it would only make this slow.
        "ACHTERBAN_RATE_LIMITS": json.dumps(FAST),
        **extra,
    }


def chaos(**extra: Any) -> dict[str, Chaos]:
    return {
        c: Chaos(too_many=0.003, broken=0.01, slow=0.02, seed=11 + i, **extra)
        for i, c in enumerate(CHANNELS)
    }


async def until(condition: Any, seconds: float, what: str) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def in_doubt(db: Database) -> dict[int, str]:
    """person id → channel of every row left `sending`."""
    async with db.transaction(read_only=True) as session:
        stmt = select(OutboxMessage.person_id, OutboxMessage.channel).where(
            OutboxMessage.status == "sending"
        )
        return {int(p): c for p, c in await session.execute(stmt) if p is not None}


async def test_sigkill_half_way_then_restart_sends_each_message_once(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    # Each fake stops answering after half of its share: the worker has requests in
    # flight on all three platforms — accepted there, not yet recorded here — when it dies.
    async with running_fakes(tmp_path, chaos(hold_after=PEOPLE // 6)) as fakes:
        engine = new_engine(db, fakes.settings(settings))
        where = await seed(db, fakes, PEOPLE)
        assert await queue_news(engine, list(where)) == PEOPLE
        env = worker_env(fakes, settings.db_url, tmp_path)
        async with worker_process(env, tmp_path / "worker-1.log") as first:
            await until(lambda: all(f.chaos.held for f in fakes.all), 45, "a send held on each")
            first.send_signal(signal.SIGKILL)
            await first.wait()
        await asyncio.sleep(0.5)  # requests that were on the wire are in (or not) by now
        before = fakes.copies()
        doubt = await in_doubt(db)
        for fake in fakes.all:
            fake.chaos.hold_after = None
            fake.chaos.released.set()
        # Accepted by the platform, unknown to us: the cases the lookup must settle.
        settle = {
            c: {p for p, ch in doubt.items() if ch == c and before[c][p] == 1} for c in CHANNELS
        }
        assert all(settle.values()), settle
        async with worker_process(env, tmp_path / "worker-2.log"):
            counts = await wait_until_delivered(db, PEOPLE, seconds=60)
    assert counts == {"sent": PEOPLE}, (counts, (tmp_path / "worker-2.log").read_text()[-3000:])
    after = fakes.copies()
    for channel in CHANNELS:
        mine = {p for p, c in where.items() if c == channel}
        assert set(after[channel]) == mine, channel  # nothing lost
    assert max(after["slack"].values()) == 1 and max(after["whatsapp"].values()) == 1
    # Teams cannot be asked: what was on its way when the worker died went out again, and
    # nothing else did.
    twice = {p for p, n in after["teams"].items() if n > 1}
    assert twice == settle["teams"] and max(after["teams"].values()) == 2


async def test_two_worker_processes_on_postgresql_send_no_duplicate(tmp_path: Path) -> None:
    name, url = await create_pg_database()
    db = Database(url)
    try:
        await upgrade_async(url)
        base = Settings(database_url=url, data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
        async with running_fakes(tmp_path, chaos()) as fakes:
            engine = new_engine(db, fakes.settings(base))
            where = await seed(db, fakes, PEOPLE)
            # Neither dies: with a lease longer than any send (as docs/delivery.md asks), no
            # row is taken over, and only the claims keep the two apart.
            long_lease = {"ACHTERBAN_DELIVERY_LEASE_SECONDS": "60"}
            envs = [
                worker_env(fakes, url, tmp_path, ACHTERBAN_PUBLIC_URL=f"https://w{i}.example")
                | long_lease
                for i in (1, 2)
            ]
            async with (
                worker_process(envs[0], tmp_path / "w1.log") as one,
                worker_process(envs[1], tmp_path / "w2.log") as two,
            ):
                for proc in (one, two):
                    assert proc.stdout is not None
                    assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"ready\n"
                # Both are waiting; the rows arrive at once and NOTIFY wakes them.
                assert await queue_news(engine, list(where)) == PEOPLE
                counts = await wait_until_delivered(db, PEOPLE, seconds=60)
        assert counts == {"sent": PEOPLE}, counts
        copies = fakes.copies()
        for channel in CHANNELS:
            mine = {p for p, c in where.items() if c == channel}
            assert set(copies[channel]) == mine and max(copies[channel].values()) == 1, channel
        # Both took part: Twilio's status callback names the worker that sent.
        senders = {form["StatusCallback"].split("/")[2] for form in fakes.whatsapp.sent}
        assert senders == {"w1.example", "w2.example"}
    finally:
        await db.dispose()
        await drop_pg_database(name)


# -- the same, step by step in this process ---------------------------------------------------


class Died(BaseException):
    """The worker process ends right here (what SIGKILL does), nothing after runs."""


class DiesAfterSending:
    """A real adapter; its `fatal`-th send reaches the platform, then the worker dies."""

    def __init__(self, inner: Any, fatal: int = 1) -> None:
        self.inner, self.fatal, self.count = inner, fatal, 0
        self.channel = inner.channel
        self.render = inner.render
        self.fetch_media = inner.fetch_media
        if hasattr(inner, "reconcile"):
            self.reconcile = inner.reconcile

    async def send(self, recipient: Recipient, rendered: Any, **key: str) -> SendResult:
        result: SendResult = await self.inner.send(recipient, rendered, **key)
        self.count += 1
        if self.count >= self.fatal:
            raise Died
        return result


async def one_of_each(db: Database, fakes: Fakes, settings: Settings) -> Engine:
    engine = new_engine(db, fakes.settings(settings))
    await queue_news(engine, list(await seed(db, fakes, 3)))
    return engine


def later(lease_seconds: float) -> Any:
    return lambda: utcnow() + timedelta(seconds=lease_seconds + 1)


async def test_a_message_the_platform_got_is_found_and_not_sent_again(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    async with running_fakes(tmp_path) as fakes:
        engine = await one_of_each(db, fakes, settings)
        cfg = engine.settings
        with trusting(fakes.teams.ca_file):
            real = {
                "slack": ReconcilingSlackAdapter(cfg),
                "teams": TeamsAdapter(cfg, engine),
                "whatsapp": ReconcilingWhatsAppAdapter(cfg),
            }
            for channel, adapter in real.items():
                dying = DeliveryWorker(db, cfg, {channel: DiesAfterSending(adapter)})  # type: ignore[dict-item]
                try:
                    await dying.run_once()
                except Died:
                    pass
                else:
                    raise AssertionError("the worker should have died")
            assert await statuses(db) == {"sending": 3}
            assert {c: sum(n.values()) for c, n in fakes.copies().items()} == dict.fromkeys(
                CHANNELS, 1
            )
            restarted = DeliveryWorker(db, cfg, real, clock=later(cfg.delivery_lease_seconds))
            assert await restarted.drain() == 3
            for adapter in real.values():
                await adapter.close()  # type: ignore[attr-defined]
    async with db.transaction(read_only=True) as session:
        rows = {r.channel: r for r in (await session.execute(select(OutboxMessage))).scalars()}
    assert {c: r.status for c, r in rows.items()} == dict.fromkeys(CHANNELS, "sent")
    copies = fakes.copies()
    assert sum(copies["slack"].values()) == 1 and sum(copies["whatsapp"].values()) == 1
    assert sum(copies["teams"].values()) == 2  # no lookup on Teams: sent again
    # The ids recorded are those of the messages the first worker sent.
    assert rows["slack"].platform_message_id in fakes.slack.messages
    assert rows["whatsapp"].platform_message_id == fakes.whatsapp.created[0]["sid"]


async def test_a_message_sent_in_part_is_completed_not_repeated(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    async with running_fakes(tmp_path) as fakes:
        engine = new_engine(db, fakes.settings(settings))
        where = await seed(db, fakes, 3)
        person = next(p for p, c in where.items() if c == "whatsapp")
        long_text = "\n".join(f"Regel {i} van het nieuws #{person}." for i in range(120))
        async with db.transaction() as session:
            await engine.services(session).notify_many([person], lambda p: Outgoing(long_text))
        adapter = ReconcilingWhatsAppAdapter(engine.settings)
        worker = DeliveryWorker(db, engine.settings, {"whatsapp": adapter})
        fakes.whatsapp.script[2] = 503  # the second part is refused: the first went out
        await worker.run_once()
        async with db.transaction(read_only=True) as session:
            (row,) = (await session.execute(select(OutboxMessage))).scalars()
        assert row.status == "sending" and "503" in (row.last_error or "")
        parts = len(adapter.render(Outgoing(long_text))["parts"])
        assert parts > 2 and len(fakes.whatsapp.created) == 1
        await asyncio.sleep(0.2)  # the backoff (50 ms here)
        assert await worker.drain() == 1
        bodies = [m["body"] for m in fakes.whatsapp.created]
        assert len(bodies) == parts == len(set(bodies))  # each part once, in order
        assert bodies == adapter.render(Outgoing(long_text))["parts"]
        await adapter.close()


async def test_an_accepted_message_whose_answer_timed_out_is_not_sent_twice(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    slow = {"whatsapp": Chaos(hold_after=0)}  # accepted, then no answer until released
    async with running_fakes(tmp_path, slow) as fakes:
        engine = new_engine(db, fakes.settings(settings))
        await queue_news(engine, list(await seed(db, fakes, 3)))
        adapter = ReconcilingWhatsAppAdapter(engine.settings, timeout=0.3)
        worker = DeliveryWorker(db, engine.settings, {"whatsapp": adapter})
        await worker.run_once()
        fakes.whatsapp.chaos.released.set()
        async with db.transaction(read_only=True) as session:
            stmt = select(OutboxMessage).where(OutboxMessage.channel == "whatsapp")
            (row,) = (await session.execute(stmt)).scalars()
        assert row.status == "sending"  # in doubt, not pending: it is looked up first
        assert len(fakes.whatsapp.created) == 1
        await asyncio.sleep(0.2)  # the backoff (50 ms here)
        assert await worker.drain() == 1
        assert len(fakes.whatsapp.created) == 1 and fakes.whatsapp.attempts == 1
        async with db.transaction(read_only=True) as session:
            row = (await session.execute(stmt)).scalar_one()
        assert (row.status, row.platform_message_id) == ("sent", fakes.whatsapp.created[0]["sid"])
        await adapter.close()
