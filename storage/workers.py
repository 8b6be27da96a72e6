"""Worker heartbeats: the rows of a delivery worker that died come back in seconds.

A worker registers (storage/worker_models.py), beats every `heartbeat` seconds and writes its
id into every row it claims (`outbox.claimed_by`). At each beat it also looks for workers
whose beat is `STALE_BEATS` beats old and releases their rows:

- `claimed` rows (nothing was sent) become `pending`, due now, the attempt not counted; the
  outbox trigger wakes every worker on PostgreSQL;
- `sending` rows (in doubt) keep their status with a claim as old as `RELEASED`, so the next
  claim takes them and looks them up on the platform first, as after a lease (bot/delivery.py).

Either way the row's claim token changes, so the old worker, were it only slow, can write
nothing of it again (fencing, storage/outbox.py), and the person's later rows no longer wait
behind it. On SQLite one process owns the file: a worker that starts releases every row held
in its channels at once (`register(..., sole=True)`).

Why a table and not PostgreSQL's own liveness (a session advisory lock, pg_stat_activity of
the worker's backend): those would notice a dead process at once, but they need a session
connection held for the worker's life (PgBouncer's transaction mode has none), the same
code would not serve SQLite, and a backend can outlive a hung worker. A beat is one UPDATE
every few seconds per worker, and works the same through any pooler.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Table, delete, insert, select, update

from storage.db import Database
from storage.models import OutboxMessage
from storage.outbox import CLAIMED, PENDING, SENDING
from storage.worker_models import DeliveryWorkerRow

# A worker is dead when it missed this many beats.
STALE_BEATS = 3
# The claim of a released row in doubt: older than any lease, so the next claim takes it.
RELEASED = datetime(2000, 1, 1, tzinfo=UTC)

_OUTBOX = cast(Table, OutboxMessage.__table__)
_WORKERS = cast(Table, DeliveryWorkerRow.__table__)


async def register(
    db: Database,
    worker_id: str,
    now: datetime,
    *,
    sole: bool = False,
    channels: Sequence[str] = (),
) -> int:
    """Register a worker; with `sole` (SQLite: one process owns the file) release every row
    of `channels` held by anyone else, at once. Returns how many rows were released."""
    async with db.transaction() as session:
        await session.execute(
            insert(_WORKERS).values(
                id=worker_id, host=socket.gethostname()[:255], pid=os.getpid(),
                started_at=now, beat_at=now,
            )
        )  # fmt: skip
        if not sole:
            return 0
        await session.execute(delete(_WORKERS).where(_WORKERS.c.id != worker_id))
        held = _OUTBOX.c.channel.in_(list(channels))
        return await _release(session, held, now)


async def beat(db: Database, worker_id: str, now: datetime) -> bool:
    """The heartbeat; False when this worker was declared dead (its rows were released, and
    its writes to them are fenced off): it registers again and claims anew."""
    async with db.transaction() as session:
        stmt = update(_WORKERS).where(_WORKERS.c.id == worker_id).values(beat_at=now)
        found = cast(CursorResult[Any], await session.execute(stmt)).rowcount
        if not found:
            await session.execute(
                insert(_WORKERS).values(
                    id=worker_id, host=socket.gethostname()[:255], pid=os.getpid(),
                    started_at=now, beat_at=now,
                )
            )  # fmt: skip
    return bool(found)


async def reap(db: Database, now: datetime, heartbeat: timedelta) -> int:
    """Release the rows of workers whose beat stopped; returns how many rows. Any worker may
    run it; two running it at once release each row once (the second finds it released).

    One write transaction: a dead worker's row is deleted (only while its beat is still
    stale) and its rows are released with it. A slow worker that beats first is not dead and
    keeps its rows; one that beats after finds its row gone and is told (`beat` returns
    False). On PostgreSQL the DELETE and a concurrent beat's UPDATE lock the same row, so
    exactly one of them wins; on SQLite writes are serialised. The read before it only
    spares the usual beat, when no one is dead, a write transaction.
    """
    stale = now - heartbeat * STALE_BEATS
    async with db.transaction(read_only=True) as session:
        # The usual beat finds no one dead: a read, no write transaction (nor SQLite's lock).
        someone = select(_WORKERS.c.id).where(_WORKERS.c.beat_at < stale).limit(1)
        if (await session.execute(someone)).first() is None:
            return 0
    async with db.transaction() as session:
        deleted = await session.execute(
            delete(_WORKERS).where(_WORKERS.c.beat_at < stale).returning(_WORKERS.c.id)
        )
        dead = list(deleted.scalars())
        if not dead:
            return 0
        return await _release(session, _OUTBOX.c.claimed_by.in_(dead), now)


async def unregister(db: Database, worker_id: str, now: datetime) -> int:
    """A worker stopping (SIGTERM): what it still holds goes back at once."""
    async with db.transaction() as session:
        released = await _release(session, _OUTBOX.c.claimed_by == worker_id, now)
        await session.execute(delete(_WORKERS).where(_WORKERS.c.id == worker_id))
    return released


async def alive(db: Database) -> list[dict[str, Any]]:
    """The registered workers (for operations and tests)."""
    async with db.transaction(read_only=True) as session:
        rows = await session.execute(select(_WORKERS).order_by(_WORKERS.c.started_at))
        return [dict(r._mapping) for r in rows]


async def _release(session: Any, which: Any, now: datetime) -> int:
    c = _OUTBOX.c
    unsent = await session.execute(
        update(_OUTBOX)
        .where(which, c.status == CLAIMED)
        .values(
            status=PENDING, next_attempt_at=now, claimed_at=None, claimed_by=None,
            attempts=c.attempts - 1,
        )
    )  # fmt: skip
    in_doubt = await session.execute(
        update(_OUTBOX)
        .where(which, c.status == SENDING)
        .values(claimed_at=RELEASED, claimed_by=None)
    )
    return int(unsent.rowcount) + int(in_doubt.rowcount)
