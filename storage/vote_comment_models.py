"""A remark typed with a named vote ("nee, de broek is te warm"): kept for the OR to read.

Only named polls have these rows; for an anonymous poll the remark is never stored, because
a free-text remark next to a person (or even next to the time of an anonymous vote) could
tell who voted what. One row per person and poll: a later remark replaces the earlier one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.model_base import Base, Id, UTCDateTime, utcnow


class VoteComment(Base):
    __tablename__ = "vote_comments"
    __table_args__ = (UniqueConstraint("poll_id", "person_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    written_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
