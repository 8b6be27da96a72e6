"""Small SQL helpers that differ per backend."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession


async def insert_ignore(
    session: AsyncSession, table: Table, values: dict[str, Any], conflict: list[str]
) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True when the row was new.

    Concurrent inserts of the same key are safe on both backends: on PostgreSQL the second
    waits for the first to commit and then does nothing.
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    pk = next(iter(table.primary_key.columns))
    stmt = insert(table).values(**values).on_conflict_do_nothing(index_elements=conflict)
    result = await session.execute(stmt.returning(pk))
    return result.first() is not None


def is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"
