"""What the OR does with an outcome ("Wat doet de OR ermee?"): a follow-up.

A follow-up is a broadcast (storage/broadcast_models.py) tied to the poll, open question or
survey it answers, so reach and feedback are counted as for every broadcast. The results are
kept as the audience reads them, one text per language, made when the follow-up is written:
a closed poll's results no longer change, and the scheduler queues later batches of a large
audience with the same text.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.model_base import Base, Id, UTCDateTime, utcnow


class FollowUp(Base):
    """One follow-up per subject ("poll" 3, "question" 7, "survey" 2)."""

    __tablename__ = "followups"
    __table_args__ = (UniqueConstraint("subject_kind", "subject_id"),)

    broadcast_id: Mapped[int] = mapped_column(
        Id, ForeignKey("broadcasts.id", ondelete="CASCADE"), primary_key=True
    )
    subject_kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int] = mapped_column(Integer)
    # {"nl": "...", "en": "..."}: the results as each language reads them.
    results: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
