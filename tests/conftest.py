"""Shared fixtures. Every test that takes `db` runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.app import new_engine
from bot.config import Settings
from bot.engine import Engine
from storage.db import Database
from storage.migrate import upgrade_async
from tests.support.databases import clean, create_pg_database, drop_pg_database
from tests.support.org import Org


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A migrated, empty database per backend for the whole session."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
        await upgrade_async(url)
        yield url
        return
    name, url = await create_pg_database()
    try:
        await upgrade_async(url)
        yield url
    finally:
        await drop_pg_database(name)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await clean(database)
    yield database
    await database.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        secret_key="test-secret-key-that-is-long-enough-for-production",
        delivery_backoff_seconds=0.01,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def engine(db: Database, settings: Settings) -> Engine:
    return new_engine(db, settings)


@pytest.fixture
async def org(engine: Engine) -> Org:
    """A small organisation: see tests/support/org.py."""
    return await Org.create(engine)


@pytest.fixture
def anyio_backend() -> Iterator[str]:
    yield "asyncio"
