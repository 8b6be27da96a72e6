"""Reaping dead delivery workers (storage/workers.py) on both backends: a worker declared
dead loses its rows and its registration together, so a slow one is always told."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update

from bot.messages import Outgoing
from storage.db import Database
from storage.models import OutboxMessage, utcnow
from storage.outbox import CLAIMED, PENDING, Outbox, outbox_row
from storage.worker_models import DeliveryWorkerRow
from storage.workers import alive, beat, reap, register

EVERY = timedelta(seconds=1)
WORKERS = 12


async def claim_one_each(db: Database, worker_ids: list[str]) -> None:
    """One claimed row per worker, as the outbox claim leaves it."""
    now = utcnow()
    rows = [outbox_row("console", w, None, Outgoing(f"to {w}"), now=now) for w in worker_ids]
    async with db.transaction() as session:
        await Outbox(session).add_many(rows)
        for worker_id in worker_ids:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.account == worker_id)
                .values(status=CLAIMED, claimed_at=now, claimed_by=worker_id, attempts=1)
            )


async def status_by_account(db: Database) -> dict[str, tuple[str, str | None]]:
    async with db.transaction(read_only=True) as session:
        rows = await session.execute(
            select(OutboxMessage.account, OutboxMessage.status, OutboxMessage.claimed_by)
        )
        return {account: (status, by) for account, status, by in rows}


async def test_a_dead_worker_loses_its_rows_and_its_registration_together(
    db: Database,
) -> None:
    start = utcnow()
    await register(db, "dead", start)
    await register(db, "alive", start)
    await claim_one_each(db, ["dead", "alive"])
    later = start + EVERY * 4
    assert await beat(db, "alive", later)

    assert await reap(db, later, EVERY) == 1
    assert await status_by_account(db) == {"dead": (PENDING, None), "alive": (CLAIMED, "alive")}
    assert [w["id"] for w in await alive(db)] == ["alive"]
    assert await reap(db, later, EVERY) == 0  # nothing left to release
    # The dead one beats again: told it was declared dead, and registered anew.
    assert not await beat(db, "dead", later)
    assert sorted(w["id"] for w in await alive(db)) == ["alive", "dead"]


async def test_a_slow_worker_beating_during_a_reap_is_dead_and_told_or_alive_and_keeps_its_rows(
    db: Database,
) -> None:
    """Stale workers beat while a reap runs. Each one's rows are released exactly when its
    beat says it was declared dead: never released behind the back of a worker that goes
    on as if alive (the reap used to read the dead in one transaction and release in
    another, so a beat in between kept the registration while the rows went)."""
    ids = [f"slow{i}" for i in range(WORKERS)]
    start = utcnow()
    for worker_id in ids:
        await register(db, worker_id, start)
    await claim_one_each(db, ids)
    now = start + EVERY * 10

    reaped, *beats = await asyncio.gather(reap(db, now, EVERY), *(beat(db, w, now) for w in ids))

    rows = await status_by_account(db)
    released = {w for w in ids if rows[w] == (PENDING, None)}
    told_dead = {w for w, kept in zip(ids, beats, strict=True) if not kept}
    assert released == told_dead
    assert reaped == len(released)
    assert all(rows[w] == (CLAIMED, w) for w in set(ids) - released)
    async with db.transaction(read_only=True) as session:
        registered = set((await session.execute(select(DeliveryWorkerRow.id))).scalars())
    assert registered == set(ids)  # alive, or told and registered anew
