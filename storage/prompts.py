"""The most recent question with choices sent to a person (see OutboxMessage.prompt)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage


async def latest_prompt(session: AsyncSession, person_id: int) -> dict[str, Any] | None:
    stmt = (
        select(OutboxMessage.prompt)
        .where(OutboxMessage.person_id == person_id, OutboxMessage.prompt.is_not(None))
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()
