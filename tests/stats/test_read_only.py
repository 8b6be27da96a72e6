"""`achterban stats` only reads where it reads (it may read a replica, where nothing can be
written): what it finds worth caching is written afterwards, in a write transaction on the
primary (storage.stats.report, storage/stats_cache.py `keep_in`)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, insert
from sqlalchemy.exc import DBAPIError

from bot.engine import Engine
from bot.errors import StoreUnavailable
from storage.db import Database
from storage.stats import report
from storage.stats_cache_models import StatsCell
from tests.stats.test_cache import cached_items, live, setup
from tests.support.org import Org

TZ = ZoneInfo("Europe/Amsterdam")


def read_only(url: str) -> Database:
    """A second Database on the same store whose connections cannot write, as on a hot
    standby (PostgreSQL: default_transaction_read_only; SQLite: query_only)."""
    twin = Database(url)

    @event.listens_for(twin.engine.sync_engine, "connect")
    def _no_writes(dbapi_connection: Any, _record: Any) -> None:
        if not twin.is_sqlite:
            dbapi_connection.autocommit = True  # not in a transaction that is rolled back
        cursor = dbapi_connection.cursor()
        if twin.is_sqlite:
            cursor.execute("PRAGMA query_only = ON")
        else:
            cursor.execute("SET SESSION default_transaction_read_only = on")
            dbapi_connection.autocommit = False
        cursor.close()

    return twin


async def test_the_report_reads_a_read_only_store_and_caches_on_the_primary(
    engine: Engine, big: Org
) -> None:
    closed, anon, _ = await setup(engine, big)
    replica = read_only(engine.db.url)
    try:
        with pytest.raises((DBAPIError, StoreUnavailable)):  # the twin really cannot write
            async with replica.transaction(read_only=True) as session:
                row = {"kind": "poll", "item": 1, "reach": 0, "responses": 0}
                await session.execute(insert(StatsCell).values(**row, stamp="x", batch="y"))
        first = await report(engine.db, TZ, None, read=replica)
        # Written on the primary after the read: the closed polls are cached there.
        assert await cached_items(engine) == {("poll", closed), ("poll", anon)}
        assert await report(engine.db, TZ, None, read=replica) == first
        assert first == await live(engine)
    finally:
        await replica.dispose()
