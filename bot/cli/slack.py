"""`achterban slack sync`: link every roster person to their Slack user, by e-mail.

Polls and broadcasts can then reach people on Slack who never wrote to the bot. Linking goes
through the same channel_accounts rows that a first message creates, so running it twice, or
after people have written, changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from bot.cli.common import Format, database, err, fail, prepare_database, print_json, run, settings
from bot.config import Settings
from bot.errors import AchterbanError
from storage.db import Database
from storage.people import Accounts, People

if TYPE_CHECKING:  # the SDK is imported only when the command runs (the CLI starts fast)
    from slack_sdk.web.async_client import AsyncWebClient

slack_app = typer.Typer(help="Slack: link the roster to Slack users.", no_args_is_help=True)


@slack_app.callback()
def slack_group() -> None:
    """Slack: link the roster to Slack users (a group, so `slack sync` reads the same when run
    on its own and when registered under `achterban`)."""


CHANNEL = "slack"
# users.lookupByEmail is Tier 3 (about 50 a minute): wait out rate limits, however long.
RATE_LIMIT_WAIT = 120.0
RATE_LIMIT_RETRIES = 20


class SlackSyncFailed(AchterbanError):
    """Slack refused the lookup for a reason that holds for everyone (token, scope)."""


@dataclass
class SyncReport:
    linked: list[str] = field(default_factory=list)
    already_linked: int = 0
    not_found: list[str] = field(default_factory=list)  # e-mail addresses
    conflicts: list[str] = field(default_factory=list)  # Slack user linked to someone else
    without_email: list[str] = field(default_factory=list)  # names

    def to_dict(self) -> dict[str, object]:
        return {
            "linked": len(self.linked),
            "already_linked": self.already_linked,
            "not_found": self.not_found,
            "conflicts": self.conflicts,
            "without_email": self.without_email,
        }


async def sync_people(
    cfg: Settings,
    db: Database,
    *,
    started: Callable[[int], None] = lambda _total: None,
    advance: Callable[[], None] = lambda: None,
) -> SyncReport:
    """Look up each roster person's e-mail in Slack and link the account found."""
    import aiohttp

    from adapters.slack import web_client

    async with db.transaction(read_only=True) as session:
        people = [(p.id, p.name, p.email) for p in await People(session).all()]
    started(len(people))
    report = SyncReport()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as http:
        client = web_client(
            cfg, http, rate_limit_wait=RATE_LIMIT_WAIT, rate_limit_retries=RATE_LIMIT_RETRIES
        )
        for person_id, name, email in people:
            if not email:
                report.without_email.append(name)
            else:
                user = await _lookup(client, email)
                if user is None:
                    report.not_found.append(email)
                else:
                    await _link(db, report, person_id, email, user)
            advance()
    return report


async def _lookup(client: AsyncWebClient, email: str) -> str | None:
    """The active Slack user with this e-mail address, or None."""
    import aiohttp
    from slack_sdk.errors import SlackApiError

    try:
        found = await client.users_lookupByEmail(email=email)
    except SlackApiError as exc:
        error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        if error == "users_not_found":
            return None
        raise SlackSyncFailed(f"Slack refused users.lookupByEmail: {error}") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise SlackSyncFailed(f"Slack unreachable: {type(exc).__name__}") from None
    user = found.get("user") or {}
    if user.get("deleted") or user.get("is_bot") or not user.get("id"):
        return None  # deactivated accounts and bots are not colleagues to reach
    return str(user["id"])


async def _link(db: Database, report: SyncReport, person_id: int, email: str, user: str) -> None:
    async with db.transaction() as session:
        accounts = Accounts(session)
        existing = await accounts.find(CHANNEL, user)
        account = existing or await accounts.link(person_id, CHANNEL, user)
    if account.person_id != person_id:
        report.conflicts.append(email)
    elif existing is not None:
        report.already_linked += 1
    else:
        report.linked.append(email)


@slack_app.command("sync")
def slack_sync(
    fmt: Format | None = typer.Option(None, "--format", help="json: the counts"),
) -> None:
    """Link every roster person to their Slack user by e-mail (users.lookupByEmail)."""
    cfg = settings()
    if cfg.slack_bot_token is None:
        raise fail("SLACK_BOT_TOKEN is not set.", 2)
    prepare_database(cfg)
    progress = Progress(
        TextColumn("Linking Slack users"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
    )

    async def go() -> SyncReport:
        async with database(cfg) as db:
            task = progress.add_task("sync", total=None)
            return await sync_people(
                cfg,
                db,
                started=lambda total: progress.update(task, total=total),
                advance=lambda: progress.advance(task),
            )

    with progress:
        report = run(go())
    for email in report.not_found:
        err.print(f"not found in Slack: {email}")
    for email in report.conflicts:
        err.print(f"[yellow]Slack user already linked to someone else:[/yellow] {email}")
    for name in report.without_email:
        err.print(f"no e-mail address on the roster: {name}")
    if fmt is Format.json:
        print_json(report.to_dict())
    err.print(
        f"Slack: {len(report.linked)} linked, {report.already_linked} already linked, "
        f"{len(report.not_found)} not found, {len(report.conflicts)} conflicts, "
        f"{len(report.without_email)} without e-mail."
    )


if __name__ == "__main__":
    slack_app()
