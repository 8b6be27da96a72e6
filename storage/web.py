"""Repositories of the web channel: one-time links, browser sessions, the web chat mailbox.

A token is shown once (in a link or a cookie) and stored only as its SHA-256 hash. Redeeming a
link is one conditional UPDATE, so two browsers racing with the same link cannot both win.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ChannelAccount, Person
from storage.web_models import LoginLink, WebMessage, WebSession

ADMIN, CHAT = "admin", "chat"
WEB_CHANNEL = "web"
ANSWERED = "answered"  # web mailbox payload key: a button of the message was pressed


def new_token() -> str:
    """256 bits from the OS, URL-safe: unguessable and fit for a path segment or a cookie."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class LoginLinks:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(self, person_id: int, purpose: str, *, now: datetime, ttl: timedelta) -> str:
        """A new link for the person; returns the token (only its hash is stored)."""
        token = new_token()
        self.session.add(
            LoginLink(
                token_hash=token_hash(token),
                person_id=person_id,
                purpose=purpose,
                created_at=now,
                expires_at=now + ttl,
            )
        )
        await self.session.flush()
        return token

    async def peek(self, token: str, purpose: str, *, now: datetime) -> LoginLink | None:
        """The link if it can still be used, without using it (to greet the person)."""
        stmt = select(LoginLink).where(
            LoginLink.token_hash == token_hash(token),
            LoginLink.purpose == purpose,
            LoginLink.used_at.is_(None),
            LoginLink.expires_at > now,
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def redeem(self, token: str, purpose: str, *, now: datetime) -> int | None:
        """Use the link once: the person's id, or None when unknown, used or expired."""
        stmt = (
            update(LoginLink)
            .where(
                LoginLink.token_hash == token_hash(token),
                LoginLink.purpose == purpose,
                LoginLink.used_at.is_(None),
                LoginLink.expires_at > now,
            )
            .values(used_at=now)
            .returning(LoginLink.person_id)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()


class WebSessions:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def open(self, person_id: int, kind: str, *, now: datetime, ttl: timedelta) -> str:
        token = new_token()
        self.session.add(
            WebSession(
                token_hash=token_hash(token),
                person_id=person_id,
                kind=kind,
                created_at=now,
                last_seen_at=now,
                expires_at=now + ttl,
            )
        )
        await self.session.flush()
        return token

    async def find(self, token: str, kind: str, *, now: datetime) -> WebSession | None:
        """The live session of this kind, or None (unknown, ended or expired)."""
        stmt = select(WebSession).where(
            WebSession.token_hash == token_hash(token),
            WebSession.kind == kind,
            WebSession.expires_at > now,
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def touch(self, session_id: int, *, now: datetime, expires_at: datetime) -> None:
        await self.session.execute(
            update(WebSession)
            .where(WebSession.id == session_id)
            .values(last_seen_at=now, expires_at=expires_at)
            .execution_options(synchronize_session=False)
        )

    async def close(self, token: str) -> None:
        await self.session.execute(
            delete(WebSession).where(WebSession.token_hash == token_hash(token))
        )


class WebMailbox:
    """Messages delivered to the web chat. A message waits here until the browser has shown
    it, and then stays as the chat's recent history (the newest `HISTORY` per person, none
    older than the mailbox retention): a person who opens the chat again, on this or another
    device, sees what the works council said. Sealed messages stay sealed here too."""

    HISTORY = 50

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def put(self, account: str, payload: dict[str, Any], *, now: datetime) -> int:
        stmt = (
            insert(WebMessage)
            .values(account=account, payload=payload, created_at=now)
            .returning(WebMessage.id)
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def acknowledge(self, account: str, up_to: int) -> None:
        """The browser has shown every message up to this id: what falls outside the recent
        history is gone from the server."""
        oldest_kept = (
            select(WebMessage.id)
            .where(WebMessage.account == account)
            .order_by(WebMessage.id.desc())
            .offset(self.HISTORY - 1)
            .limit(1)
        )
        threshold = (await self.session.execute(oldest_kept)).scalar_one_or_none()
        if threshold is None:
            return
        await self.session.execute(
            delete(WebMessage).where(
                WebMessage.account == account,
                WebMessage.id < threshold,
                WebMessage.id <= up_to,
            )
        )

    async def waiting(self, account: str, *, after: int = 0, limit: int = 100) -> list[WebMessage]:
        stmt = (
            select(WebMessage)
            .where(WebMessage.account == account, WebMessage.id > after)
            .order_by(WebMessage.id)
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def recent(
        self, account: str, *, since: datetime, limit: int = HISTORY
    ) -> list[WebMessage]:
        """The newest messages of this person (oldest first), none from before `since`."""
        stmt = (
            select(WebMessage)
            .where(WebMessage.account == account, WebMessage.created_at >= since)
            .order_by(WebMessage.id.desc())
            .limit(limit)
        )
        return list(reversed((await self.session.execute(stmt)).scalars().all()))

    async def clear_person(self, person_id: int) -> None:
        """Drop the whole history of the person's web chat (a role was taken away: what they
        were shown under it, moderation requests and the like, must not stay readable)."""
        accounts = select(ChannelAccount.platform_id).where(
            ChannelAccount.person_id == person_id, ChannelAccount.channel == WEB_CHANNEL
        )
        await self.session.execute(
            delete(WebMessage)
            .where(WebMessage.account.in_(accounts))
            .execution_options(synchronize_session=False)
        )

    async def mark_answered(self, account: str, message_id: int) -> bool:
        """A button of this message was pressed: its buttons are not offered again, also in
        the history. The mark sits next to a sealed payload, never inside it."""
        found = (
            await self.session.execute(
                select(WebMessage).where(WebMessage.account == account, WebMessage.id == message_id)
            )
        ).scalar_one_or_none()
        if found is None or found.payload.get(ANSWERED):
            return False
        await self.session.execute(
            update(WebMessage)
            .where(WebMessage.id == message_id)
            .values(payload={**found.payload, ANSWERED: True})
            .execution_options(synchronize_session=False)
        )
        return True


async def purge(session: AsyncSession, *, now: datetime, mailbox_max_age: timedelta) -> int:
    """Remove what has no use any more: used or expired links, expired sessions and sessions
    of forgotten people, and mailbox messages that are too old or whose account is gone."""
    removed = 0
    statements: Sequence[Any] = (
        delete(LoginLink).where((LoginLink.expires_at <= now) | LoginLink.used_at.is_not(None)),
        delete(WebSession).where(
            (WebSession.expires_at <= now)
            | WebSession.person_id.in_(select(Person.id).where(Person.forgotten_at.is_not(None)))
        ),
        delete(WebMessage).where(
            (WebMessage.created_at <= now - mailbox_max_age)
            | WebMessage.account.not_in(
                select(ChannelAccount.platform_id).where(ChannelAccount.channel == WEB_CHANNEL)
            )
        ),
    )
    for stmt in statements:
        result = await session.execute(stmt.execution_options(synchronize_session=False))
        removed += int(getattr(result, "rowcount", 0) or 0)
    return removed
