"""The tables of consultations (surveys, "raadplegingen"): 1..12 questions sent as one.

Privacy rules that shape these tables (docs/privacy.md, "Raadplegingen"):

- `survey_participations` is the register: who started and who finished, on which channel;
  no answer and no time. While someone answers, their answers so far are kept in its
  `progress` column SEALED (Fernet, a key derived from the server's secret key), so the
  register holds only a token that nobody without the secret can open. It is erased when they
  finish.
- `survey_responses` is one finished respondent. Anonymous: no person, a random id, no
  time and not even the day of finishing (the survey's opening day stands in); its
  department and location are sealed while the survey is open (a token with a random nonce
  and no time) and written in the clear only at closing, and only for groups of 5 or more
  respondents (a department and location together too), so that neither the register of who
  finished nor the order of finishing narrows a response to one colleague. Named: the
  person, department and location.
- `survey_answers` holds one answer to one question of a response, with a random id (the ids
  `achterban question themes` and the dashboard name), and no time.
Rows of anonymous responses and their answers are rewritten by the reseal job
(storage/reseal.py) so that on PostgreSQL they share no transaction id with the
participation row and the confirmation written with them.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.model_base import Base, Id, NullableJSON, UTCDateTime, utcnow


class Survey(Base):
    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    introduction: Mapped[str] = mapped_column(Text, default="")
    anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    # {} is everyone; {"department": "..."} or {"location": "..."} a segment (as polls).
    audience: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    audience_size: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="scheduled", index=True)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A reminder to those who have not finished, this many hours before closing (None: none).
    remind_hours: Mapped[int | None] = mapped_column(Integer)
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The turnout the OR aims for, in percent of the audience (None: no target).
    turnout_target: Mapped[int | None] = mapped_column(Integer)
    # The language the questions are written in (the OR's texts are not translated).
    language: Mapped[str] = mapped_column(String(8), default="nl")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SurveyQuestion(Base):
    """One question. `kind`: single, multiple, scale (1..5 with `low`/`high` end labels),
    nps (0..10) or open. `why`: a choice or scale question is followed by "waarom?"."""

    __tablename__ = "survey_questions"
    __table_args__ = (UniqueConstraint("survey_id", "position"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    low: Mapped[str | None] = mapped_column(String(100))
    high: Mapped[str | None] = mapped_column(String(100))
    why: Mapped[bool] = mapped_column(Boolean, default=False)


class SurveyParticipation(Base):
    """Who started and who finished (no answer, no time); `progress` is sealed, see module."""

    __tablename__ = "survey_participations"

    survey_id: Mapped[int] = mapped_column(
        ForeignKey("surveys.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    finished: Mapped[bool] = mapped_column(Boolean, default=False)
    # The channel they last answered on (turnout per channel).
    channel: Mapped[str | None] = mapped_column(String(16))
    progress: Mapped[str | None] = mapped_column(Text)


class SurveyResponse(Base):
    """One finished respondent: anonymous (no person, random id, date only) or named."""

    __tablename__ = "survey_responses"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    department: Mapped[str | None] = mapped_column(String(120))
    location: Mapped[str | None] = mapped_column(String(120))
    # Anonymous, while the survey is open: department and location sealed (AES-GCM, a random
    # nonce and no time in the token); erased at closing (bot/surveys/progress.py).
    groups_sealed: Mapped[str | None] = mapped_column(Text)
    # Named: the day they finished. Anonymous: the survey's opening day (the day of finishing
    # would match the outbox rows of the questions sent to its author that day).
    finished_on: Mapped[date] = mapped_column(Date)
    resealed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class SurveyAnswer(Base):
    """One answer of a response: `numbers` (option positions from 1, or the scale value) and
    `text` (an open answer, or the "waarom?" after a choice)."""

    __tablename__ = "survey_answers"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("survey_responses.id", ondelete="CASCADE"), index=True
    )
    question_id: Mapped[int] = mapped_column(
        ForeignKey("survey_questions.id", ondelete="CASCADE"), index=True
    )
    numbers: Mapped[list[int] | None] = mapped_column(NullableJSON)
    text: Mapped[str | None] = mapped_column(Text)
    resealed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


__all__ = ["Survey", "SurveyAnswer", "SurveyParticipation", "SurveyQuestion", "SurveyResponse"]
