"""Wake workers in other processes when the outbox gets rows (PostgreSQL LISTEN/NOTIFY).

On SQLite there is one process, which wakes its worker with an asyncio.Event directly.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database

CHANNEL = "achterban_outbox"


async def notify_outbox(session: AsyncSession) -> None:
    """Queue a notification; PostgreSQL delivers it when (and only if) the transaction commits."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


@contextlib.asynccontextmanager
async def listen_outbox(db: Database, wake: asyncio.Event) -> AsyncIterator[None]:
    """Set `wake` on every notification while the block runs (no-op on SQLite)."""
    if db.is_sqlite:
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
