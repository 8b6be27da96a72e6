"""Manual redaction of report photos: the rectangles a photo is blurred in.

One row per report photo, made when a moderator first changes its rectangles. `regions` is the
whole current set, in pixels of the processed photo: the faces found without consent (source
"face") and the moderator's own (source "moderator"), minus what a moderator removed. The
processed photo is always rendered from the original with exactly this set.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, UTCDateTime, utcnow


class PhotoRedaction(Base):
    __tablename__ = "report_photo_redactions"

    photo_id: Mapped[int] = mapped_column(
        ForeignKey("report_photos.id", ondelete="CASCADE"), primary_key=True
    )
    regions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
