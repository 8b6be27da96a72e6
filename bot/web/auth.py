"""Sessions, cookies and CSRF tokens for the dashboard and the web chat.

- A session cookie holds a random token; the server keeps only its hash and decides when the
  session ends (idle and absolute limits), so logging out or removing a role takes effect at
  once. Cookies are HttpOnly, SameSite=Lax, scoped to /admin or /chat, and Secure when the
  public URL is https.
- Every form carries a CSRF token: an HMAC of the session token under the app's secret. Before
  login, a random "pre" cookie plays the session's part (so a forged login form fails too).
  SameSite=Lax keeps cookies off cross-site POSTs; the token is the second, independent lock.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from storage.db import Database
from storage.models import Person
from storage.people import People
from storage.web import WebSessions

ADMIN_COOKIE = "achterban_admin"
CHAT_COOKIE = "achterban_chat"
PRE_COOKIE = "achterban_pre"
ADMIN_IDLE = timedelta(hours=2)
ADMIN_MAX = timedelta(hours=12)
CHAT_TTL = timedelta(days=90)
# Writing last_seen_at on every request would make every page view a write; once in a while
# is enough for the idle limit.
TOUCH_EVERY = timedelta(minutes=5)
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"


def secure_cookies(settings: Settings) -> bool:
    return urlsplit(settings.public_url).scheme == "https"


def csrf_token(settings: Settings, session_token: str) -> str:
    key = settings.secret.encode("utf-8")
    return hmac.new(key, b"csrf:" + session_token.encode("utf-8"), hashlib.sha256).hexdigest()


def csrf_valid(settings: Settings, session_token: str | None, given: object) -> bool:
    if not session_token or not isinstance(given, str) or not given or not given.isascii():
        return False  # hmac.compare_digest raises on non-ASCII text (a 500)
    return hmac.compare_digest(csrf_token(settings, session_token), given)


def set_cookie(
    response: web.StreamResponse,
    settings: Settings,
    name: str,
    value: str,
    *,
    path: str,
    max_age: timedelta,
) -> None:
    response.set_cookie(
        name,
        value,
        path=path,
        max_age=int(max_age.total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=secure_cookies(settings),
    )


def clear_cookie(response: web.StreamResponse, name: str, *, path: str) -> None:
    response.del_cookie(name, path=path)


def pre_session(request: web.Request) -> tuple[str, bool]:
    """The browser's pre-login token and whether it is new (then the caller sets the cookie)."""
    existing = request.cookies.get(PRE_COOKIE)
    if existing and 20 <= len(existing) <= 100:
        return existing, False
    return secrets.token_urlsafe(24), True


def remember_pre_session(response: web.StreamResponse, settings: Settings, token: str) -> None:
    set_cookie(response, settings, PRE_COOKIE, token, path="/", max_age=timedelta(hours=1))


@dataclass(frozen=True, slots=True)
class Visitor:
    """The person behind a live session, as a request sees them."""

    person: Person
    roles: frozenset[str]
    token: str
    csrf: str
    session_id: int

    @property
    def lang(self) -> str:
        return self.person.language or "nl"

    @property
    def is_or_member(self) -> bool:
        return bool(self.roles & {"or_member", "admin"})

    @property
    def is_moderator(self) -> bool:
        return bool(self.roles & {"moderator", "admin"})

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


async def load_visitor(
    request: web.Request,
    db: Database,
    settings: Settings,
    *,
    cookie: str,
    kind: str,
    now: datetime,
) -> Visitor | None:
    """The session's person, or None: no cookie, unknown/expired session, forgotten person."""
    token = request.cookies.get(cookie)
    if not token or len(token) > 100:
        return None
    async with db.transaction(read_only=True) as session:
        found = await WebSessions(session).find(token, kind, now=now)
        if found is None:
            return None
        person = await People(session).get(found.person_id)
        if person is None or person.forgotten_at is not None:
            return None
        roles = frozenset(await People(session).roles(person.id))
        last_seen, created, session_id = found.last_seen_at, found.created_at, found.id
    if now - last_seen >= TOUCH_EVERY:
        expires = now + CHAT_TTL if kind == "chat" else min(now + ADMIN_IDLE, created + ADMIN_MAX)
        async with db.transaction() as session:
            await WebSessions(session).touch(session_id, now=now, expires_at=expires)
    return Visitor(person, roles, token, csrf_token(settings, token), session_id)


def session_ttl(kind: str) -> tuple[timedelta, timedelta]:
    """(server-side lifetime at start, cookie lifetime) of a session of this kind."""
    if kind == "chat":
        return CHAT_TTL, CHAT_TTL
    return ADMIN_IDLE, ADMIN_MAX


async def open_session(session: AsyncSession, person_id: int, kind: str, *, now: datetime) -> str:
    """A new session token, in the caller's transaction (with the link it redeems)."""
    ttl, _cookie = session_ttl(kind)
    return await WebSessions(session).open(person_id, kind, now=now, ttl=ttl)


async def end_session(db: Database, token: str) -> None:
    async with db.transaction() as session:
        await WebSessions(session).close(token)
