"""Recurring polls' schedules: add one, list the due ones, and claim the next copy."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.recurring_models import PollSchedule


class PollSchedules:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, schedule: PollSchedule) -> PollSchedule:
        self.session.add(schedule)
        await self.session.flush()
        return schedule

    async def get(self, schedule_id: int) -> PollSchedule | None:
        return await self.session.get(PollSchedule, schedule_id, populate_existing=True)

    async def due(self, now: datetime) -> list[int]:
        stmt = select(PollSchedule.id).where(PollSchedule.next_at <= now).order_by(PollSchedule.id)
        return list((await self.session.execute(stmt)).scalars())

    async def advance(self, schedule_id: int, seen: datetime, new: datetime) -> bool:
        """next_at: seen → new; False when another process moved it first. On PostgreSQL the
        second UPDATE waits for the first's commit and then matches no row; SQLite runs one
        writer at a time. Either way one process opens each copy."""
        stmt = (
            update(PollSchedule)
            .where(PollSchedule.id == schedule_id, PollSchedule.next_at == seen)
            .values(next_at=new)
            .returning(PollSchedule.id)
        )
        return (await self.session.execute(stmt)).first() is not None
