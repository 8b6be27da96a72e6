"""The schedule of a recurring poll: what to ask, and when the next copy opens.

One row per schedule. `next_at` is the only column the scheduler changes, and only with a
conditional UPDATE from the value it read, so one process opens each copy
(bot/usecases/polls.py, open_next_repeat).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.model_base import Base, Id, NullableJSON, UTCDateTime, utcnow


class PollSchedule(Base):
    __tablename__ = "poll_schedules"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    # The labels in order; each copy gets option rows of its own.
    options: Mapped[list[str]] = mapped_column(JSON)
    # The English texts each copy gets too, when the author wrote them.
    question_en: Mapped[str | None] = mapped_column(Text)
    options_en: Mapped[list[str] | None] = mapped_column(NullableJSON)
    multiple: Mapped[bool] = mapped_column(Boolean, default=False)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    hide_results: Mapped[bool] = mapped_column(Boolean, default=False)
    audience: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # "weekly" (on `weekday`, 0 = Monday) or "monthly" (on `day` of the month, the last day of
    # a shorter month), at `at_time` ("HH:MM") local time: local, so 9:00 stays 9:00 over DST.
    repeat: Mapped[str] = mapped_column(String(8))
    weekday: Mapped[int | None] = mapped_column(Integer)
    day: Mapped[int | None] = mapped_column(Integer)
    at_time: Mapped[str] = mapped_column(String(5))
    # Each copy closes this long after it opens (None: copies stay open until closed).
    close_after_minutes: Mapped[int | None] = mapped_column(Integer)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
