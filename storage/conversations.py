"""Per-person conversation rows: dialog state, and the lock that serialises a person's events."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Conversation
from storage.sql import insert_ignore, is_postgres


async def lock_conversation(session: AsyncSession, person_id: int) -> Conversation:
    """The person's conversation, locked until the transaction ends.

    PostgreSQL: SELECT … FOR UPDATE, so two events of one person never interleave.
    SQLite: the transaction already holds the database write lock (BEGIN IMMEDIATE).
    """
    await insert_ignore(
        session,
        Conversation.__table__,  # type: ignore[arg-type]
        {"person_id": person_id, "state": {}},
        ["person_id"],
    )
    stmt = select(Conversation).where(Conversation.person_id == person_id)
    if is_postgres(session):
        stmt = stmt.with_for_update()
    return (await session.execute(stmt.execution_options(populate_existing=True))).scalar_one()
