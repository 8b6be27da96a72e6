"""Per-person conversation rows: dialog state, and the lock that serialises a person's events."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Conversation, utcnow
from storage.sql import is_postgres


async def lock_conversation(session: AsyncSession, person_id: int) -> Conversation:
    """The person's conversation, created if needed and locked until the transaction ends.

    One statement: INSERT … ON CONFLICT DO UPDATE … RETURNING. On PostgreSQL the conflicting
    update takes the row lock, so two events of one person never interleave; on SQLite the
    transaction already holds the database write lock (BEGIN IMMEDIATE).
    """
    insert = pg_insert if is_postgres(session) else sqlite_insert
    stmt = (
        insert(Conversation)
        .values(person_id=person_id, state={}, updated_at=utcnow())
        .on_conflict_do_update(index_elements=["person_id"], set_={"person_id": person_id})
        .returning(Conversation)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one()
