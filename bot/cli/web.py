"""`achterban web invite EMAIL` and `achterban admin login-link EMAIL`.

Both are the server operator's tools (who holds the database anyway), and are audited as the
operator's acts, never as the person's. `web invite` sends the invitation through the person's
own channel when they have one (bot/usecases/access.py) and prints it only when they have
none; whoever opens a printed one is told it was made by the server's administrator. A
printed link is the last line of output (scripts take it from there); explanations go to
stderr. Links are built from ACHTERBAN_PUBLIC_URL, the address people's browsers use.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import typer

from bot.cli.common import database, err, fail, prepare_database, run, settings
from bot.usecases.access import (
    INVITE_TTL,
    LOGIN_LINK_TTL,
    Invitation,
    invite,
    issue_login_link,
    may_use_dashboard,
)
from storage.audit import audit
from storage.models import utcnow
from storage.people import People

web_app = typer.Typer(help="The web chat (/chat).", no_args_is_help=True)
admin_app = typer.Typer(help="The admin dashboard (/admin).", no_args_is_help=True)


@web_app.command("invite")
def web_invite(email: str = typer.Argument(..., metavar="EMAIL")) -> None:
    """Send EMAIL a web chat invitation on their own channel; print it if they have none."""
    cfg = settings()
    prepare_database(cfg)

    async def go() -> Invitation:
        async with database(cfg) as db, db.transaction() as session:
            person = await People(session).by_email(email)
            if person is None or person.forgotten_at is not None:
                raise fail(f"No person with e-mail {email} on the roster.")
            return await invite(
                session,
                person,
                actor_id=None,
                now=utcnow(),
                base_url=cfg.public_url,
                timezone=ZoneInfo(cfg.timezone),
                via="cli",
            )

    sent = run(go())
    if sent.url is None:
        err.print(
            f"Web chat invitation for {email} queued on {sent.channel}: only they see the link.",
            markup=False,
        )
        return
    err.print(
        f"Web chat invitation for {email} (no Teams, Slack or WhatsApp): works once, valid "
        f"{INVITE_TTL.days} days. Hand it to them in person; it says it was made by the "
        "server's administrator.",
        markup=False,
    )
    typer.echo(sent.url)


@admin_app.command("login-link")
def admin_login_link(email: str = typer.Argument(..., metavar="EMAIL")) -> None:
    """Print a one-time dashboard login link for EMAIL (an OR member, moderator or admin)."""
    cfg = settings()
    prepare_database(cfg)

    async def go() -> str:
        async with database(cfg) as db, db.transaction() as session:
            people = People(session)
            person = await people.by_email(email)
            if person is None or person.forgotten_at is not None:
                raise fail(f"No person with e-mail {email} on the roster.")
            if not may_use_dashboard(await people.roles(person.id)):
                raise fail(f"{email} is not an OR member, moderator or admin.")
            url = await issue_login_link(session, person.id, now=utcnow(), base_url=cfg.public_url)
            # The operator made it, not the person: no actor, the person as the subject.
            await audit(session, "web.login_link_created", subject=f"person:{person.id}", via="cli")
            return url

    url = run(go())
    minutes = int(LOGIN_LINK_TTL.total_seconds() // 60)
    err.print(f"Dashboard link for {email}: works once, within {minutes} minutes.", markup=False)
    typer.echo(url)
