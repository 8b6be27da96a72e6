"""Access to the web: one-time dashboard links and web chat invitations.

A dashboard link opens the admin dashboard once, within ten minutes, for the person who asked
in their own chat: no passwords to manage, and a link that leaks later is worth nothing.

Web chat invitations are sent to the person through their own channel and printed only by an
admin. Whoever holds an invitation chats as the person: votes, reports, and (with a role)
dashboard links. So nobody may be handed someone else's invitation:

- A person with a channel where the platform itself vouches for them (Slack, Teams, WhatsApp)
  gets the link there, in a message to their own account; whoever asked never sees it.
- Only a person without such a channel gets a printed invitation, made by an admin on the
  dashboard (or by the server's operator with the CLI, who holds the database anyway). It is
  audited as that act, and the person is told who made it and when as soon as they open it,
  so a colleague who did not ask for it can raise the alarm.

The web chat does not count as a channel of its own: its accounts come from invitations, and
someone who lost their browser session could never receive one there. A live web chat session
is told when an invitation is printed for its person. The console is the operator's terminal.

The chat command (dialogs/dashboard.py), the dashboard (bot/web/people_views.py,
bot/web/login_views.py) and the CLI (bot/cli/web.py) call these functions, so the rules live
here once.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import t
from bot.messages import Outgoing, Purpose
from storage.audit import audit
from storage.models import AuditEntry, ChannelAccount, Person
from storage.outbox import Outbox, outbox_row
from storage.web import ADMIN, CHAT, WEB_CHANNEL, LoginLinks, token_hash
from storage.web_models import LoginLink

DASHBOARD_ROLES = frozenset({"or_member", "moderator", "admin"})
LOGIN_LINK_TTL = timedelta(minutes=10)
# A chat invitation may be printed and handed out (a notice board, a QR code), so it lives
# longer than a login link; it is still used once, and opens a session for one browser.
INVITE_TTL = timedelta(days=14)

LOGIN_PATH = "/admin/login/"
INVITE_PATH = "/chat/join/"

# Channels whose platform authenticates the person: an invitation sent there reaches them only.
VOUCHED_CHANNELS = ("slack", "teams", "whatsapp")
SENT = "web.invite_sent"
PRINTED = "web.invite_printed"
# How a printed invitation is named in its audit entry: a prefix of the token's hash, which
# cannot be turned back into the token (and so into a login).
REF_LENGTH = 16


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

    Whoever holds it chats as the person: hand it out only through `invite`."""
    token = await LoginLinks(session).create(person_id, CHAT, now=now, ttl=INVITE_TTL)
    return invite_url(base_url, token)


@dataclass(frozen=True, slots=True)
class Invitation:
    """What became of an invitation: sent on `channel`, or printed (`url` set)."""

    url: str | None = None
    channel: str | None = None


@dataclass(frozen=True, slots=True)
class PrintedBy:
    """Who printed an invitation and when; `name` None: the server's operator (CLI)."""

    name: str | None
    on: datetime


def invitation_ref(token: str) -> str:
    return token_hash(token)[:REF_LENGTH]


async def own_account(session: AsyncSession, person_id: int) -> ChannelAccount | None:
    """The person's vouched channel account, the one they used last."""
    stmt = select(ChannelAccount).where(
        ChannelAccount.person_id == person_id, ChannelAccount.channel.in_(VOUCHED_CHANNELS)
    )
    accounts = list((await session.execute(stmt)).scalars())

    def last_used(account: ChannelAccount) -> tuple[float, int]:
        used = account.last_inbound_at
        return (used.timestamp() if used else float("-inf"), -account.id)

    return max(accounts, key=last_used, default=None)


async def invite(
    session: AsyncSession,
    person: Person,
    *,
    actor_id: int | None,
    now: datetime,
    base_url: str,
    timezone: ZoneInfo,
    via: str,
) -> Invitation:
    """Send `person` an invitation through their own channel, or make one to print.

    The caller has checked that the actor may do this (an admin, or the operator's CLI)."""
    token = await LoginLinks(session).create(person.id, CHAT, now=now, ttl=INVITE_TTL)
    url = invite_url(base_url, token)
    lang = person.language or "nl"
    subject = f"person:{person.id}"
    account = await own_account(session, person.id)
    outbox = Outbox(session)
    if account is not None:
        text = t(lang, "web.invite.message", url=url, days=INVITE_TTL.days)
        message = Outgoing(text=text, purpose=Purpose.NOTICE)
        await outbox.add_many(
            [outbox_row(account.channel, account.platform_id, person.id, message, now=now)]
        )
        await audit(
            session, SENT, actor_id=actor_id, subject=subject, channel=account.channel, via=via
        )
        return Invitation(channel=account.channel)
    await audit(
        session,
        PRINTED,
        actor_id=actor_id,
        subject=subject,
        invitation=invitation_ref(token),
        via=via,
    )
    printer = await session.get(Person, actor_id) if actor_id is not None else None
    printed = PrintedBy(printer.name if printer else None, now)
    warning = announcement(lang, printed, timezone, warning=True)
    warned = Outgoing(text=warning, purpose=Purpose.NOTICE)
    stmt = select(ChannelAccount.platform_id).where(
        ChannelAccount.person_id == person.id, ChannelAccount.channel == WEB_CHANNEL
    )
    rows = [
        outbox_row(WEB_CHANNEL, platform_id, person.id, warned, now=now)
        for platform_id in (await session.execute(stmt)).scalars()
    ]
    await outbox.add_many(rows)
    return Invitation(url=url)


async def printed_by(session: AsyncSession, token: str) -> PrintedBy | None:
    """Who printed this invitation (used or not), or None when it was sent or is unknown."""
    link = (
        await session.execute(select(LoginLink).where(LoginLink.token_hash == token_hash(token)))
    ).scalar_one_or_none()
    if link is None or link.purpose != CHAT:
        return None
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.action == PRINTED, AuditEntry.subject == f"person:{link.person_id}")
        .order_by(AuditEntry.id.desc())
    )
    ref = invitation_ref(token)
    for entry in (await session.execute(stmt)).scalars():
        if (entry.details or {}).get("invitation") == ref:
            printer = await session.get(Person, entry.actor_id) if entry.actor_id else None
            return PrintedBy(printer.name if printer else None, link.created_at)
    return None


def announcement(
    lang: str, printed: PrintedBy, timezone: ZoneInfo, *, warning: bool = False
) -> str:
    """ "This invitation was made for you by <name> on <date>" for whoever opens it; with
    `warning`, the same news for a web chat session the person already has."""
    day = format_date(
        printed.on.astimezone(timezone), "d MMMM y", locale="nl_NL" if lang == "nl" else "en_GB"
    )
    key = "web.invite.printed_warning" if warning else "web.invite.printed_by"
    if printed.name is None:
        return t(lang, f"{key}_operator", date=day)
    return t(lang, key, name=printed.name, date=day)
