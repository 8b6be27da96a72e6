"""The SQL schema. Migrations in storage/migrations are checked against it by the tests.

Privacy rules that shape this schema: an anonymous poll has a participation register (who
took part) and per-option counters, and no row anywhere ties a person to a choice; neither
table carries a timestamp that could be correlated with the other.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


def random_id() -> int:
    """A key for an anonymous row: random, so that it says nothing of the order of arrival
    (a sequential id would match the row to the outbox row that confirmed it). JSON-safe."""
    return secrets.randbelow(2**53 - 1) + 1


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Nullable JSON columns store SQL NULL for None (not the JSON text 'null'), so that
# "IS NULL" means what it says.
NullableJSON = JSON(none_as_null=True)

# BigInteger ids on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32), unique=True)
    department: Mapped[str | None] = mapped_column(String(120))
    location: Mapped[str | None] = mapped_column(String(120))
    language: Mapped[str] = mapped_column(String(8), default="nl")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    forgotten_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Role(Base):
    __tablename__ = "roles"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(32), primary_key=True)


class ChannelAccount(Base):
    __tablename__ = "channel_accounts"
    __table_args__ = (UniqueConstraint("channel", "platform_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    platform_id: Mapped[str] = mapped_column(String(255))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    # Teams needs a stored conversation reference to write first; WhatsApp a last-inbound time
    # to know whether the 24-hour session window is open.
    conversation_ref: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Conversation(Base):
    """One row per person: the lock that serialises their events, and dialog state."""

    __tablename__ = "conversations"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    dialog: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class InboundEvent(Base):
    """Seen platform events; the unique key makes a platform retry a no-op.

    `event_key` is a keyed hash of the platform's event id (bot/privacy.py), never the id:
    a platform may build that id from what the person chose. Rows are purged once platforms
    have stopped retrying (ACHTERBAN_INBOUND_KEY_RETENTION_HOURS).
    """

    __tablename__ = "inbound_events"
    __table_args__ = (UniqueConstraint("channel", "event_key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    event_key: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "channel", "next_attempt_at"),
        Index("ix_outbox_prompt", "person_id", "id", postgresql_where=text("prompt IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(String(255))
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    # The Outgoing as JSON; emptied once sent, so message bodies (which may name a secret
    # choice) do not outlive their delivery.
    payload: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    purpose: Mapped[str] = mapped_column(String(16), default="reply")
    # For a question sent outside a dialog (a poll): its choices, kept after sending, so that
    # a typed number or label is routed to the most recent question the person received.
    prompt: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    # Only for an answer to a sender we refused (no channel account is stored for them): what
    # the platform needs to reach them (a Teams conversation reference). Erased once sent.
    recipient_ref: Mapped[dict[str, Any] | None] = mapped_column(NullableJSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    platform_message_id: Mapped[str | None] = mapped_column(String(255), index=True)
    last_error: Mapped[str | None] = mapped_column(String(500))
    # What the platform reported later (delivery receipts): sent, delivered, read, failed.
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    delivery_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Poll(Base):
    __tablename__ = "polls"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    multiple: Mapped[bool] = mapped_column(Boolean, default=False)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    hide_results: Mapped[bool] = mapped_column(Boolean, default=False)
    # {} is everyone; {"department": "..."} or {"location": "..."} a segment.
    audience: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    audience_size: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PollOption(Base):
    __tablename__ = "poll_options"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200))
    # Only for anonymous polls: the tally, with no trace of who.
    anonymous_count: Mapped[int] = mapped_column(Integer, default=0)


class Ballot(Base):
    """A named vote: one row per chosen option. Never used for anonymous polls."""

    __tablename__ = "ballots"
    __table_args__ = (UniqueConstraint("poll_id", "person_id", "option_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    option_id: Mapped[int] = mapped_column(ForeignKey("poll_options.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Participation(Base):
    """Who took part in an anonymous poll: no option, no time."""

    __tablename__ = "participations"

    poll_id: Mapped[int] = mapped_column(
        ForeignKey("polls.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )


# --- Open questions, unsafe-situation reports and nominations (issue 4) ---------------------
#
# Privacy rules that shape these tables: an anonymous answer and a fully anonymous report
# carry no person and only a date (no time of day); a fully anonymous reporter is found back
# only through the hash of a secret code they hold. Anonymous nomination campaigns keep the
# nominator only while the campaign is open (to refuse duplicates) and erase it at closing.


class OpenQuestion(Base):
    __tablename__ = "open_questions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
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
