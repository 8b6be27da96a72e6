"""Wake workers in other processes when the outbox gets rows (PostgreSQL LISTEN/NOTIFY).

The notification comes from a trigger on outbox rows that become pending (migration 0001), so every
writer — engine, scheduler, CLI — wakes the workers without an extra round trip, and only when
its transaction commits. On SQLite there is one process, which wakes its worker with an
asyncio.Event directly.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from storage.db import Database

CHANNEL = "achterban_outbox"


# PostgreSQL only; created and dropped by the migrations (one statement each: asyncpg
# prepares every statement).
CREATE_TRIGGER = (
    f"""CREATE FUNCTION achterban_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', '');
    RETURN NULL;
END $$""",
    # Only rows that became due wake workers: a worker's own claims and results do not.
    """CREATE TRIGGER outbox_notify AFTER INSERT OR UPDATE OF status ON outbox
    FOR EACH ROW WHEN (NEW.status = 'pending') EXECUTE FUNCTION achterban_outbox_notify()""",
)
DROP_TRIGGER = (
    "DROP TRIGGER IF EXISTS outbox_notify ON outbox",
    "DROP FUNCTION IF EXISTS achterban_outbox_notify()",
)


@contextlib.asynccontextmanager
async def listen_outbox(db: Database, wake: asyncio.Event) -> AsyncIterator[None]:
    """Set `wake` on every notification while the block runs (no-op on SQLite, and behind
    PgBouncer in transaction mode, where LISTEN would hold no session: the worker then asks
    every `idle_seconds`, and its own process's engine still wakes it directly)."""
    if db.is_sqlite or db.behind_pgbouncer:
        yield
        return
    async with db.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection

        def on_notify(*_args: object) -> None:
            wake.set()

        await driver.add_listener(CHANNEL, on_notify)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                await driver.remove_listener(CHANNEL, on_notify)
