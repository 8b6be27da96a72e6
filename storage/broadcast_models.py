"""Tables of broadcasts (nieuws / updates), opt-outs, and the OR's targets for the stats.

A broadcast does not copy the outbox: each person it was meant for has one row in
broadcast_recipients that points at the outbox row of their message, so reach is counted
from what the delivery worker and the platforms recorded there (status, delivery_status).
The same row holds the person's feedback (useful / not useful, changeable) and their
"gelezen", so each counts at most once per person by construction.

Opt-outs are a table of their own: a person who typed `stop` (WhatsApp requires honouring
it) gets no broadcasts until they type `start`; polls and answers to their own reports are
not broadcasts and still reach them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, Id, UTCDateTime, utcnow


class Broadcast(Base):
    """One update of the OR to everyone or a segment, sent now or at `scheduled_at`.

    status: scheduled → sending (recipients are being queued, in batches) → sent (all queued;
    the worker may still be delivering), or cancelled. `expanded_through` is the highest
    person id queued so far, so a batch is never queued twice, whichever process ticks.
    """

    __tablename__ = "broadcasts"
    __table_args__ = (Index("ix_broadcasts_status_scheduled_at", "status", "scheduled_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    # What English-speaking colleagues read instead, when the author wrote it (bot.i18n.pick).
    text_en: Mapped[str | None] = mapped_column(Text)
    # A processed media id (scrubbed, faces blurred): never an original.
    image_id: Mapped[str | None] = mapped_column(String(80))
    # {} is everyone; {"department": "..."} or {"location": "..."} a segment.
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Only people with an account on this channel, reached there (None: preferred channel).
    channel: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expanded_through: Mapped[int] = mapped_column(Id, default=0)
    audience_size: Mapped[int] = mapped_column(Integer, default=0)
    acknowledge: Mapped[bool] = mapped_column(Boolean, default=False)
    # One reminder to who did not press "gelezen", this long after sending started.
    remind_after_minutes: Mapped[int | None] = mapped_column(Integer)
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BroadcastRecipient(Base):
    """A person a broadcast was meant for: queued (with their outbox row), opted out, or
    unreachable (no channel at all); and what they did with it."""

    __tablename__ = "broadcast_recipients"

    broadcast_id: Mapped[int] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(16))
    outbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox.id", ondelete="SET NULL"), index=True
    )
    feedback: Mapped[str | None] = mapped_column(String(16))
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BroadcastReply(Base):
    """Text a person typed in answer to a broadcast (their latest prompt was the broadcast)."""

    __tablename__ = "broadcast_replies"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BroadcastReaction(Base):
    """A platform reaction (Slack emoji, Teams like) on a person's copy of a broadcast.
    Keyed per person and reaction, so adding, removing and adding again counts once."""

    __tablename__ = "broadcast_reactions"

    broadcast_id: Mapped[int] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    reaction: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BroadcastOptOut(Base):
    """Who does not want broadcasts, since when, and where they said so."""

    __tablename__ = "broadcast_optouts"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    channel: Mapped[str | None] = mapped_column(String(16))
