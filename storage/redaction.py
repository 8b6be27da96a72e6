"""The rectangles of a report photo, and switching the photo to its newly rendered file.

A change is saved only if the photo still has the processed file the moderator looked at (a
conditional UPDATE): two moderators editing the same photo at once cannot silently undo each
other's rectangles; the second is told to look again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ReportPhoto
from storage.redaction_models import PhotoRedaction

FACE, MODERATOR = "face", "moderator"
SOURCES = (FACE, MODERATOR)


@dataclass(frozen=True, slots=True)
class Region:
    """A rectangle in pixels of the processed photo."""

    x: int
    y: int
    w: int
    h: int
    source: str = MODERATOR

    def as_dict(self) -> dict[str, Any]:
        return {"x": self.x, "y": self.y, "w": self.w, "h": self.h, "source": self.source}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Region:
        source = raw.get("source")
        return cls(
            int(raw["x"]),
            int(raw["y"]),
            int(raw["w"]),
            int(raw["h"]),
            source if source in SOURCES else MODERATOR,
        )


class Redactions:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def regions(self, photo_id: int) -> list[Region] | None:
        """The saved rectangles; None while no moderator has changed them."""
        row = await self.session.get(PhotoRedaction, photo_id, populate_existing=True)
        return None if row is None else [Region.from_dict(r) for r in row.regions]

    async def save(
        self,
        photo: ReportPhoto,
        regions: Sequence[Region],
        *,
        expected: str,
        processed_id: str,
        actor_id: int | None,
        now: datetime,
    ) -> bool:
        """Store `regions` and point the photo at `processed_id`; False when the photo's file
        is no longer `expected` (someone changed it meanwhile): then nothing is changed."""
        stmt = (
            update(ReportPhoto)
            .where(ReportPhoto.id == photo.id, ReportPhoto.processed_id == expected)
            .values(
                processed_id=processed_id,
                blurred=sum(1 for r in regions if r.source == FACE),
            )
            .returning(ReportPhoto.id)
            .execution_options(synchronize_session=False)
        )
        if (await self.session.execute(stmt)).first() is None:
            return False
        stored = [r.as_dict() for r in regions]
        row = await self.session.get(PhotoRedaction, photo.id)
        if row is None:
            self.session.add(
                PhotoRedaction(
                    photo_id=photo.id, regions=stored, updated_at=now, updated_by=actor_id
                )
            )
        else:
            row.regions, row.updated_at, row.updated_by = stored, now, actor_id
        await self.session.flush()
        return True
