"""`achterban web invite EMAIL` and `achterban admin login-link EMAIL`.

Both print one URL as their last line (scripts take it from there); explanations go to
stderr. The links are built from ACHTERBAN_PUBLIC_URL, the address people's browsers use.
"""

from __future__ import annotations

import typer

from bot.cli.common import database, err, fail, prepare_database, run, settings
from dialogs.dashboard import (
    INVITE_TTL,
    LOGIN_LINK_TTL,
    issue_invite,
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
    """Print a personal web chat invitation for EMAIL (one use, valid 14 days)."""
    cfg = settings()
    prepare_database(cfg)

    async def go() -> str:
        async with database(cfg) as db, db.transaction() as session:
            person = await People(session).by_email(email)
            if person is None or person.forgotten_at is not None:
                raise fail(f"No person with e-mail {email} on the roster.")
            url = await issue_invite(session, person.id, now=utcnow(), base_url=cfg.public_url)
            await audit(session, "web.invite_created", subject=f"person:{person.id}", via="cli")
            return url

    url = run(go())
    err.print(
        f"Web chat invitation for {email}: works once, valid {INVITE_TTL.days} days.",
        markup=False,
    )
    typer.echo(url)


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
            await audit(session, "web.login_link_created", actor_id=person.id, via="cli")
            return url

    url = run(go())
    minutes = int(LOGIN_LINK_TTL.total_seconds() // 60)
    err.print(f"Dashboard link for {email}: works once, within {minutes} minutes.", markup=False)
    typer.echo(url)
