"""Access to the web: one-time dashboard links, web chat invitations, and their clean-up.

`dashboard` in any channel gives an OR member, moderator or admin a link that opens the admin
dashboard once, within ten minutes: no passwords to manage, and a link that leaks later (chat
history, a forwarded message) is worth nothing. The link goes to the person who asked, in
their own chat; nobody can ask for someone else's. Web chat invitations are made and handed
out by dialogs/invitations.py (through the person's own channel, or printed by an admin). The
CLI and the dashboard use the same functions, so the rules live here once.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation import Services, Turn
from bot.registry import Registry
from storage.web import ADMIN, CHAT, LoginLinks, purge

DASHBOARD_ROLES = frozenset({"or_member", "moderator", "admin"})
LOGIN_LINK_TTL = timedelta(minutes=10)
# A chat invitation may be printed and handed out (a notice board, a QR code), so it lives
# longer than a login link; it is still used once, and opens a session for one browser.
INVITE_TTL = timedelta(days=14)

LOGIN_PATH = "/admin/login/"
INVITE_PATH = "/chat/join/"


def may_use_dashboard(roles: Collection[str]) -> bool:
    return bool(DASHBOARD_ROLES & set(roles))


def login_link_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{LOGIN_PATH}{token}"


def invite_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{INVITE_PATH}{token}"


async def issue_login_link(
    session: AsyncSession, person_id: int, *, now: datetime, base_url: str
) -> str:
    """A one-time dashboard link (the caller checked the person's roles)."""
    token = await LoginLinks(session).create(person_id, ADMIN, now=now, ttl=LOGIN_LINK_TTL)
    return login_link_url(base_url, token)


async def issue_invite(
    session: AsyncSession, person_id: int, *, now: datetime, base_url: str
) -> str:
    """A personal, one-time web chat invitation, with no audit entry and no announcement.

    Whoever holds it chats as the person: hand it out only through dialogs/invitations.py."""
    token = await LoginLinks(session).create(person_id, CHAT, now=now, ttl=INVITE_TTL)
    return invite_url(base_url, token)


async def dashboard_link(turn: Turn, _rest: str) -> None:
    if not may_use_dashboard(turn.roles):
        turn.reply(turn.t("web.dashboard.refused"))
        return
    services = turn.services
    url = await issue_login_link(
        services.session, turn.person.id, now=services.now, base_url=services.settings.public_url
    )
    await services.audit("web.login_link_created", actor_id=turn.person.id, via="chat")
    minutes = int(LOGIN_LINK_TTL.total_seconds() // 60)
    turn.reply(turn.t("web.dashboard.link", url=url, minutes=minutes))


async def purge_web(services: Services) -> int:
    """Drop used and expired links, ended sessions and stale web chat messages."""
    # Web chat messages of someone who never came back are not kept for ever.
    max_age = timedelta(days=services.settings.retention.web_mailbox_days)
    return await purge(services.session, now=services.now, mailbox_max_age=max_age)


def register(registry: Registry) -> None:
    registry.command("commands.dashboard", dashboard_link)
    registry.periodic("web_purge", purge_web)
