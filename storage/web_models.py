"""Tables of the web channel: one-time links, browser sessions, and the web chat's mailbox.

Links and session tokens are stored only as SHA-256 hashes: a copy of the database does not
let anyone log in. The mailbox holds the bot's web chat messages from their delivery on, as
the chat's recent history (the newest 50 per person, none older than the mailbox retention);
sealed ones stay sealed, and what the person types is never stored here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, Id, UTCDateTime, utcnow


class LoginLink(Base):
    """A one-time link: `admin` opens a dashboard session, `chat` a web chat session."""

    __tablename__ = "web_login_links"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A logged-in browser; the cookie holds the token, the server decides when it ends."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class WebMessage(Base):
    """A message delivered to the web chat: waiting for the browser, then recent history."""

    __tablename__ = "web_messages"
    # Ids must only grow (the browser confirms "everything up to id N"): SQLite would reuse
    # the id of a deleted last row without AUTOINCREMENT.
    __table_args__ = (
        Index("ix_web_messages_account_id", "account", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    account: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
