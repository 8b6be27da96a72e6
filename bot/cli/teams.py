"""`achterban teams sync`: link roster people to their Teams account through Microsoft Graph.

Teams accounts are keyed by the person's directory (AAD object) id. Looking each e-mail
address up in the directory links people who never wrote to the bot, so broadcasts and polls
count them: with ACHTERBAN_TEAMS_GRAPH_INSTALL the worker installs the app for them and writes
first; without it `broadcast status` counts them as unreachable (teams_not_installed). No
conversation reference is stored here, and nothing is installed. Running it twice, or after
people have written, changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from bot.cli.common import Format, database, err, fail, prepare_database, print_json, run, settings
from bot.config import Settings
from bot.errors import AchterbanError, ConfigError
from storage.db import Database
from storage.people import Accounts, People

if TYPE_CHECKING:  # aiohttp and the installer load only when the command runs
    from adapters.teams_graph import TeamsInstaller

teams_app = typer.Typer(help="Teams: link the roster to Teams accounts.", no_args_is_help=True)


@teams_app.callback()
def teams_group() -> None:
    """Teams: link the roster to Teams accounts (a group, so `teams sync` reads the same when
    run on its own and when registered under `achterban`)."""


CHANNEL = "teams"
LOOKUPS_IN_FLIGHT = 4  # Graph throttles per app and tenant: a few at a time
RATE_LIMIT_RETRIES = 20
RATE_LIMIT_WAIT = 120.0  # longest wait for one Retry-After
BACKOFF_SECONDS = 2.0  # a Graph outage without Retry-After


class TeamsSyncFailed(AchterbanError):
    """Graph refused the lookups for a reason that holds for everyone (consent, secret)."""


@dataclass
class SyncReport:
    linked: list[str] = field(default_factory=list)
    already_linked: int = 0
    not_found: list[str] = field(default_factory=list)  # e-mail addresses
    conflicts: list[str] = field(default_factory=list)  # directory id linked to someone else
    without_email: list[str] = field(default_factory=list)  # names

    def to_dict(self) -> dict[str, object]:
        return {
            "linked": len(self.linked),
            "already_linked": self.already_linked,
            "not_found": sorted(self.not_found),
            "conflicts": sorted(self.conflicts),
            "without_email": self.without_email,
        }


class _Pause:
    """One pause for every lookup in flight: Graph's Retry-After is for the whole app."""

    def __init__(self) -> None:
        self.until = 0.0

    async def wait(self) -> None:
        left = self.until - asyncio.get_running_loop().time()
        if left > 0:
            await asyncio.sleep(left)
            await self.wait()  # extended meanwhile by another lookup's Retry-After

    def extend(self, seconds: float) -> None:
        self.until = max(self.until, asyncio.get_running_loop().time() + seconds)


async def sync_people(
    cfg: Settings,
    db: Database,
    *,
    started: Callable[[int], None] = lambda _total: None,
    advance: Callable[[], None] = lambda: None,
) -> SyncReport:
    """Look up the e-mail address of everyone on the roster without a Teams account in the
    directory, and link the account found. Raises ConfigError without the app's credentials."""
    from adapters.teams_graph import GraphConfig, TeamsInstaller

    config = GraphConfig.for_directory(cfg)
    report = SyncReport()
    async with db.transaction(read_only=True) as session:
        people = await People(session).all()
        channels = await People(session).channels_by_person()
        todo: list[tuple[int, str]] = []
        for person in people:
            if CHANNEL in channels.get(person.id, set()):
                report.already_linked += 1
            elif not person.email:
                report.without_email.append(person.name)
            else:
                todo.append((person.id, person.email))
    started(len(todo))
    installer = TeamsInstaller(config)
    pause, slots = _Pause(), asyncio.Semaphore(LOOKUPS_IN_FLIGHT)

    async def one(person_id: int, email: str) -> None:
        async with slots:
            aad_id = await _lookup(installer, pause, email)
        if aad_id is None:
            report.not_found.append(email)
        else:
            await _link(db, report, person_id, email, aad_id)
        advance()

    try:
        async with asyncio.TaskGroup() as group:
            for person_id, email in todo:
                group.create_task(one(person_id, email))
    except* AchterbanError as failed:  # the first: a refused lookup, the store gone
        raise failed.exceptions[0] from None
    finally:
        await installer.close()
    return report


async def _lookup(installer: TeamsInstaller, pause: _Pause, email: str) -> str | None:
    """The directory id of the person with this address, None when there is none."""
    from adapters.teams_graph import NotInDirectory
    from bot.messages import DeliveryError

    for _ in range(RATE_LIMIT_RETRIES):
        await pause.wait()
        try:
            return await installer.directory_id(email)
        except NotInDirectory:
            return None
        except DeliveryError as exc:
            if exc.permanent:
                raise TeamsSyncFailed(f"Microsoft Graph refused the lookup: {exc}") from None
            pause.extend(min(exc.retry_after or BACKOFF_SECONDS, RATE_LIMIT_WAIT))
    raise TeamsSyncFailed("Microsoft Graph kept throttling the lookups; try again later.")


async def _link(db: Database, report: SyncReport, person_id: int, email: str, aad: str) -> None:
    async with db.transaction() as session:
        accounts = Accounts(session)
        existing = await accounts.find(CHANNEL, aad)
        account = existing or await accounts.link(person_id, CHANNEL, aad)
    if account.person_id != person_id:
        report.conflicts.append(email)
    elif existing is not None:
        report.already_linked += 1
    else:
        report.linked.append(email)


@teams_app.command("sync")
def teams_sync(
    fmt: Format | None = typer.Option(None, "--format", help="json: the counts"),
) -> None:
    """Link everyone on the roster without a Teams account to their directory id (Graph)."""
    from adapters.teams_graph import GraphConfig

    cfg = settings()
    try:
        GraphConfig.for_directory(cfg)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    prepare_database(cfg)
    progress = Progress(
        TextColumn("Looking people up in Microsoft Graph"),
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
    for email in sorted(report.not_found):
        err.print(f"not in the directory: {email}")
    for email in sorted(report.conflicts):
        err.print(f"[yellow]Teams account already linked to someone else:[/yellow] {email}")
    for name in report.without_email:
        err.print(f"no e-mail address on the roster: {name}")
    if fmt is Format.json:
        print_json(report.to_dict())
    err.print(_summary(report))


def _summary(report: SyncReport) -> Table:
    table = Table(title="Teams sync", title_justify="left")
    table.add_column("people")
    table.add_column("count", justify="right")
    for label, count in (
        ("linked now", len(report.linked)),
        ("already on Teams", report.already_linked),
        ("not in the directory", len(report.not_found)),
        ("linked to someone else", len(report.conflicts)),
        ("without e-mail", len(report.without_email)),
    ):
        table.add_row(label, str(count))
    return table


if __name__ == "__main__":
    teams_app()
