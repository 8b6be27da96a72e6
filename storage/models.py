"""The SQL schema. Migrations in storage/migrations are checked against it by the tests.

Privacy rules that shape this schema: an anonymous poll has a participation register (who
took part) and per-option counters, and no row anywhere ties a person to a choice; neither
table carries a timestamp that could be correlated with the other. The tables of the other
jobs are in storage/job_models.py, the shared base in storage/model_base.py; both are
exported here too, so that `from storage.models import …` names every table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.job_models import (
    Nomination,
    NominationCampaign,
    NomineeResponse,
    OpenAnswer,
    OpenQuestion,
    QuestionParticipation,
    Report,
    ReportNote,
    ReportPhoto,
)
from storage.model_base import (
    NAMING,
    Base,
    Id,
    NullableJSON,
    UTCDateTime,
    random_id,
    utcnow,
)
from storage.prompt_items import about_id_default, about_kind_default

__all__ = [
    "NAMING",
    "AuditEntry",
    "Ballot",
    "Base",
    "ChannelAccount",
    "Conversation",
    "Id",
    "InboundEvent",
    "Nomination",
    "NominationCampaign",
    "NomineeResponse",
    "NullableJSON",
    "OpenAnswer",
    "OpenQuestion",
    "OutboxMessage",
    "Participation",
    "Person",
    "Poll",
    "PollOption",
    "PollTarget",
    "QuestionParticipation",
    "Report",
    "ReportNote",
    "ReportPhoto",
    "Role",
    "UTCDateTime",
    "random_id",
    "utcnow",
]


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


# A colleague's first message from Slack or Teams is matched by e-mail whatever its case
# (storage/first_contact.py): without this index each first contact read the whole roster.
Index("ix_people_email_lower", func.lower(Person.email))


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


UNDELIVERED_SQL = text("status IN ('pending', 'claimed', 'sending')")


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "channel", "next_attempt_at"),
        Index("ix_outbox_prompt", "person_id", "id", postgresql_where=text("prompt IS NOT NULL")),
        # The rows still to deliver, in id order: a claim reads these, not the sent history.
        Index(
            "ix_outbox_undelivered",
            "id",
            postgresql_where=UNDELIVERED_SQL,
            sqlite_where=UNDELIVERED_SQL,
        ),
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
    # The delivery worker holding the row (storage/worker_models.py): released when its beat stops.
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    platform_message_id: Mapped[str | None] = mapped_column(String(255), index=True)
    last_error: Mapped[str | None] = mapped_column(String(500))
    # What the platform reported later (delivery receipts): sent, delivered, read, failed.
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    delivery_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The poll, question or campaign the prompt asks about, from the prompt on insert, so that
    # the figures group by it in SQL (storage/prompt_items.py, storage/stats.py).
    about_kind: Mapped[str | None] = mapped_column(String(16), default=about_kind_default)
    about_id: Mapped[int | None] = mapped_column(Id, default=about_id_default)


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
    # What English-speaking colleagues read instead, when the author wrote it (bot.i18n.pick).
    question_en: Mapped[str | None] = mapped_column(Text)
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
    label_en: Mapped[str | None] = mapped_column(String(200))
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


class PollTarget(Base):
    """The response rate the OR aims for with a poll (percent); the stats say if it was met."""

    __tablename__ = "poll_targets"

    poll_id: Mapped[int] = mapped_column(
        ForeignKey("polls.id", ondelete="CASCADE"), primary_key=True
    )
    target: Mapped[int] = mapped_column(Integer)
    set_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
