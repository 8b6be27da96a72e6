"""`?pgbouncer=transaction` on the database URL: the settings PgBouncer's transaction mode
needs (docs/deployment.md) reach asyncpg and SQLAlchemy, the flag does not reach the server,
and the worker's own statements and an event's transaction still work that way. This checks
what we send, against PostgreSQL directly, so it runs where PgBouncer is not installed;
tests/scale/test_pgbouncer_real.py runs the same through a real PgBouncer."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import text

from storage.db import Database
from storage.migrate import upgrade_async
from storage.models import utcnow
from storage.notify import listen_outbox
from storage.outbox_postgres import PostgresOutbox
from tests.support.databases import create_pg_database, drop_pg_database


async def test_pgbouncer_transaction_mode_settings() -> None:
    name, url = await create_pg_database()
    db = Database(url + "?pgbouncer=transaction")
    try:
        assert db.behind_pgbouncer and "pgbouncer" not in db.url
        async with db.transaction() as session:
            assert (await session.execute(text("SELECT 1"))).scalar() == 1
            assert (await session.execute(text("SELECT 2"))).scalar() == 2
            # SQLAlchemy's statements are unnamed: none stays on the (server) connection.
            kept = text("SELECT count(*) FROM pg_prepared_statements")
            assert (await session.execute(kept)).scalar() == 0
        async with db.driver() as conn:
            assert conn._stmt_cache.get_max_size() == 0  # no named statements kept by asyncpg
            assert await conn.fetchval("SELECT 3") == 3
        await db.engine.dispose()
        # LISTEN holds no session behind PgBouncer: the worker polls instead.
        wake = asyncio.Event()
        async with listen_outbox(db, wake):
            pass
        plain = Database(url)
        assert not plain.behind_pgbouncer
        await plain.dispose()
    finally:
        await db.dispose()
        await drop_pg_database(name)


async def test_the_worker_claims_through_transaction_mode_settings() -> None:
    name, url = await create_pg_database()
    await upgrade_async(url + "?pgbouncer=transaction")  # `achterban db upgrade` too
    db = Database(url + "?pgbouncer=transaction")
    try:
        outbox = PostgresOutbox(db)
        assert await outbox.claim(["whatsapp"], now=utcnow(), limit=5, lease=timedelta(60)) == []
        assert await outbox.write([], [], now=utcnow(), lease=timedelta(60)) == set()
    finally:
        await db.dispose()
        await drop_pg_database(name)
