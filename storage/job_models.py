"""The tables of open questions, unsafe-situation reports and nominations.

Privacy rules that shape these tables: an anonymous answer and a fully anonymous report
carry no person and only a date (no time of day); a fully anonymous reporter is found back
only through the hash of a secret code they hold. Anonymous nomination rounds keep only a
keyed hash of the nominator while the round is open (to refuse duplicates) and erase it at
closing. Rows of anonymous acts get random ids and are resealed (storage/reseal.py).
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

from storage.model_base import Base, Id, UTCDateTime, utcnow


class OpenQuestion(Base):
    __tablename__ = "open_questions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    # What English-speaking colleagues read instead, when the author wrote it (bot.i18n.pick).
    text_en: Mapped[str | None] = mapped_column(Text)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    # {} is everyone; {"department": "..."} or {"location": "..."} a segment.
    audience: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    audience_size: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OpenAnswer(Base):
    """One answer. Anonymous: no person, only the date; named: one per person, replaceable."""

    __tablename__ = "open_answers"
    __table_args__ = (UniqueConstraint("question_id", "person_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("open_questions.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    answered_on: Mapped[date] = mapped_column(Date)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # named answers only
    # A moderator hid it (abusive): kept for the audit log, never shown.
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    # PostgreSQL: rewritten by the reseal job (storage/reseal.py), after which the row no
    # longer shares a transaction id with the event that wrote it.
    resealed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class QuestionParticipation(Base):
    """Who answered an anonymous question (so they answer once): no answer, no time."""

    __tablename__ = "question_participations"

    question_id: Mapped[int] = mapped_column(
        ForeignKey("open_questions.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )


class Report(Base):
    """An unsafe-situation report. `privacy`: named, hidden (name hidden from moderators,
    kept to tell the reporter the outcome) or anonymous (no link at all; a secret code)."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    reporter_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    privacy: Mapped[str] = mapped_column(String(16), default="named")
    code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text)
    location: Mapped[str] = mapped_column(Text)
    recognisable: Mapped[str | None] = mapped_column(String(8))
    consent: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    status_reason: Mapped[str | None] = mapped_column(Text)
    submitted_on: Mapped[date] = mapped_column(Date)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # not when anonymous
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    moderators_notified: Mapped[bool] = mapped_column(Boolean, default=False)
    # PostgreSQL: rewritten by the reseal job (storage/reseal.py), after which the row no
    # longer shares a transaction id with the event that wrote it.
    resealed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ReportPhoto(Base):
    """A photo of a report: the processed (scrubbed, blurred) file and, until the retention
    period ends, the original for moderators. Both are media ids (content hashes)."""

    __tablename__ = "report_photos"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    processed_id: Mapped[str] = mapped_column(String(80))
    original_id: Mapped[str | None] = mapped_column(String(80))
    faces: Mapped[int] = mapped_column(Integer, default=0)
    blurred: Mapped[int] = mapped_column(Integer, default=0)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    # PostgreSQL: rewritten by the reseal job (storage/reseal.py), after which the row no
    # longer shares a transaction id with the event that wrote it.
    resealed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ReportNote(Base):
    """Information added later, by the reporter (also through a secret code) or a moderator."""

    __tablename__ = "report_notes"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    from_reporter: Mapped[bool] = mapped_column(Boolean, default=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    added_on: Mapped[date] = mapped_column(Date)
    # PostgreSQL: rewritten by the reseal job (storage/reseal.py), after which the row no
    # longer shares a transaction id with the event that wrote it.
    resealed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class NominationCampaign(Base):
    __tablename__ = "nomination_campaigns"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    max_per_person: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Nomination(Base):
    __tablename__ = "nominations"
    __table_args__ = (
        UniqueConstraint("campaign_id", "nominator_id", "nominee_id"),
        UniqueConstraint(
            "campaign_id",
            "nominator_key",
            "nominee_id",
            name="uq_nominations_campaign_id_nominator_key",
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("nomination_campaigns.id", ondelete="CASCADE"), index=True
    )
    nominee_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    # Erased when an anonymous campaign closes: then nothing ties a nominator to a nominee.
    nominator_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    # Anonymous campaigns: a keyed hash of (campaign, nominator) instead of the nominator.
    nominator_key: Mapped[str | None] = mapped_column(String(64))
    is_self: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text)
    created_on: Mapped[date] = mapped_column(Date)
    # PostgreSQL: rewritten by the reseal job (storage/reseal.py), after which the row no
    # longer shares a transaction id with the event that wrote it.
    resealed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class NomineeResponse(Base):
    """A nominee's invitation after closing and their answer (interested, more, declined)."""

    __tablename__ = "nominee_responses"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("nomination_campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    nominations: Mapped[int] = mapped_column(Integer, default=0)
    self_nominated: Mapped[bool] = mapped_column(Boolean, default=False)
    response: Mapped[str | None] = mapped_column(String(16))
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
