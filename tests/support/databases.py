"""Test databases: a fresh SQLite file and a fresh PostgreSQL database per test session.

PostgreSQL is the machine's running server (127.0.0.1:5432, user postgres, trust auth, or
ACHTERBAN_TEST_PG_URL); each session creates its own database and drops it at the end.
"""

from __future__ import annotations

import os
import uuid

import asyncpg
from sqlalchemy import func, select, text

from storage.db import Database
from storage.schema import Base

PG_ADMIN = os.environ.get(
    "ACHTERBAN_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


async def create_pg_database() -> tuple[str, str]:
    """(database name, SQLAlchemy URL) of a new empty database."""
    name = f"achterban_test_{uuid.uuid4().hex[:12]}"
    try:
        conn = await asyncpg.connect(PG_ADMIN, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        raise RuntimeError(
            f"PostgreSQL is required for the tests and is not reachable at {PG_ADMIN} ({exc}). "
            "Start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        ) from exc
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return name, f"{base}/{name}"


async def drop_pg_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN, timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def clean(db: Database) -> None:
    """Empty every table, between tests (much faster than a new database)."""
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    async with db.engine.begin() as conn:
        if db.is_sqlite:
            for table in tables:
                await conn.execute(text(f'DELETE FROM "{table}"'))
        else:
            names = ", ".join(f'"{t}"' for t in tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


async def count(db: Database, model: type, *where: object) -> int:
    """Rows of `model` (matching `where`), as committed."""
    async with db.transaction(read_only=True) as session:
        stmt = select(func.count()).select_from(model).where(*where)  # type: ignore[arg-type]
        return int((await session.execute(stmt)).scalar_one())
