"""Rewriting the day's anonymous rows together, so that PostgreSQL's own bookkeeping does not
tell which one a person just wrote.

Every PostgreSQL row version carries the id of the transaction that wrote it (`xmin`) and
sits at a physical place that follows the order of writing (`ctid`); both can be read by
anyone who may read the table. An anonymous answer written in the same transaction as the
person's participation, conversation and confirmation rows would share their `xmin`, and its
place would tell the order of arrival, however random its id. So the transaction that adds
an anonymous row deletes the day's anonymous rows of that question or round and writes them
back in the order of their random ids: they all carry the same `xmin` (naming only the last
writer, who is known to have taken part anyway) and lie in an order that says nothing. The
date is public already, so the day's rows are all there is to mix; that keeps the cost to the
day's rows. Rows deleted here stay on disk until VACUUM, readable only to a superuser with
pageinspect (docs/privacy.md).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession


async def rewrite_together(
    session: AsyncSession, table: Table, where: ColumnElement[bool], lock: Any
) -> None:
    """Delete the rows of `table` matching `where` and insert them again, ordered by their
    random ids. `lock` selects the parent row (question, round); locking it makes concurrent
    rewrites of the same rows wait for each other (on PostgreSQL; SQLite has one writer at a
    time)."""
    # FOR NO KEY UPDATE: it waits for another rewrite, not for the FOR KEY SHARE locks that
    # inserting rows which refer to the parent takes (FOR UPDATE would deadlock with those).
    await session.execute(lock.with_for_update(key_share=True))
    rows: list[dict[str, Any]] = [
        dict(r._mapping) for r in await session.execute(select(table).where(where))
    ]
    if len(rows) < 2:
        return  # alone of its day: nothing to mix with (its date is public anyway)
    await session.execute(delete(table).where(where))
    rows.sort(key=lambda r: r["id"])
    await session.execute(insert(table), rows)
