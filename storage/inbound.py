"""Inbound event register: the first step of every event, so retries are recognised."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import InboundEvent
from storage.sql import insert_ignore


async def record_event(session: AsyncSession, channel: str, event_id: str) -> bool:
    """Remember (channel, event_id); False when it was seen before (a platform retry)."""
    return await insert_ignore(
        session,
        InboundEvent.__table__,  # type: ignore[arg-type]
        {"channel": channel, "event_id": event_id[:255]},
        ["channel", "event_id"],
    )
