"""Follow-ups ("Wat doet de OR ermee?"): which broadcast answers which poll or question."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.followup_models import FollowUp
from storage.sql import insert_ignore


class FollowUps:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        broadcast_id: int,
        kind: str,
        subject_id: int,
        results: Mapping[str, str],
        now: datetime,
    ) -> bool:
        """Tie a broadcast to its subject; False when the subject has a follow-up already
        (two OR members at once: the unique key decides, one wins)."""
        return await insert_ignore(
            self.session,
            FollowUp.__table__,  # type: ignore[arg-type]
            {
                "broadcast_id": broadcast_id,
                "subject_kind": kind,
                "subject_id": subject_id,
                "results": dict(results),
                "created_at": now,
            },
            ["subject_kind", "subject_id"],
        )

    async def of(self, kind: str, subject_id: int) -> FollowUp | None:
        stmt = select(FollowUp).where(
            FollowUp.subject_kind == kind, FollowUp.subject_id == subject_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def results(self, broadcast_id: int) -> dict[str, str] | None:
        """The results per language when the broadcast is a follow-up, else None."""
        stmt = select(FollowUp.results).where(FollowUp.broadcast_id == broadcast_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()
