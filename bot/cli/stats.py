"""`achterban stats …`: reach and response rates per poll, question, broadcast and campaign,
by channel, department and location (groups under 5 hidden), the trend per month, and the
OR's target response rate per poll."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import typer

from bot.cli.common import (
    Format,
    database,
    err,
    existing,
    exit_without_collecting,
    fail,
    person_with_role,
    prepare_database,
    print_json,
    run,
    settings,
    with_services,
)
from storage.db import Database
from storage.stats import DIMENSIONS, MIN_GROUP
from storage.stats import report as stats_report

if TYPE_CHECKING:  # `stats` runs without the engine and the chat's storage (issue 15)
    from bot.conversation import Services

stats_app = typer.Typer(
    help="Figures for the OR: reach and response rates, and targets.",
    invoke_without_command=True,
)


def _since(value: str | None, tz: ZoneInfo) -> datetime | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise fail(f"--since: not a date (YYYY-MM-DD): {value!r}", 2) from exc
    return datetime.combine(day, time(0, 0), tzinfo=tz)


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.0f}%"


@stats_app.callback()
def stats(
    ctx: typer.Context,
    since: str | None = typer.Option(None, "--since", help="Only items from DATE (YYYY-MM-DD)."),
    fmt: Format = typer.Option(Format.table, "--format", help="json or table"),
) -> None:
    """Reach and response rate per poll, question, broadcast and campaign."""
    if ctx.invoked_subcommand is not None:
        return
    if fmt is Format.csv:
        raise fail("--format: json or table", 2)
    cfg = settings()
    tz = ZoneInfo(cfg.timezone)
    start = _since(since, tz)

    prepare_database(cfg)

    async def go() -> dict[str, Any]:
        # The session alone, not with_services: the engine behind Services (bot.app, aiohttp,
        # every dialog) took ~0.35 s to import, and the report needs none of it (issue 15).
        async with database(cfg) as db:
            if cfg.read_db_url is None:
                return await stats_report(db, tz, start)
            # Read on the replica (ACHTERBAN_READ_DATABASE_URL); the cache is kept on db.
            replica = Database(cfg.read_db_url, pool_size=1)
            try:
                return await stats_report(db, tz, start, read=replica)
            finally:
                await replica.dispose()

    report = run(go())
    exit_without_collecting()
    if fmt is Format.json:
        print_json(report)
        return
    _print_tables(report)


def _print_tables(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console()
    items = Table(title="Reach and response per item")
    for column in ("kind", "id", "date", "title", "reach", "responses", "rate", "target"):
        items.add_column(column)
    breakdown = Table(title=f"Breakdowns (groups under {MIN_GROUP} merged or hidden)")
    for column in ("kind", "id", "by", "group", "reach", "responses", "rate"):
        breakdown.add_column(column)
    for item in report["items"]:
        target = "-"
        if item["target"] is not None:
            target = f"{item['target']}% " + ("reached" if item["target_reached"] else "missed")
        items.add_row(
            item["kind"], str(item["id"]), item["date"], item["title"], str(item["reach"]),
            str(item["responses"]), _pct(item["response_rate"]), target,
        )  # fmt: skip
        for dim in DIMENSIONS:
            part = item[f"by_{dim}"]
            for group in part["groups"]:
                breakdown.add_row(
                    item["kind"], str(item["id"]), dim, group["group"], str(group["reach"]),
                    str(group["responses"]), _pct(group["response_rate"]),
                )  # fmt: skip
            if part["hidden"]:
                breakdown.add_row(item["kind"], str(item["id"]), dim, "(hidden)", "", "", "")
    trend = Table(title="Trend per month")
    for column in ("month", "kind", "items", "reach", "responses", "rate"):
        trend.add_column(column)
    for row in report["trend"]:
        trend.add_row(
            row["month"], row["kind"], str(row["items"]), str(row["reach"]),
            str(row["responses"]), _pct(row["response_rate"]),
        )  # fmt: skip
    out.print(items)
    out.print(breakdown)
    out.print(trend)


@stats_app.command("target")
def poll_target(
    poll_id: int = typer.Argument(..., metavar="POLL_ID"),
    percent: int = typer.Argument(..., metavar="PCT", min=1, max=100),
    set_by: str | None = typer.Option(None, "--set-by", help="E-mail of an OR member."),
) -> None:
    """Set the response rate (percent) the OR aims for with poll POLL_ID."""
    from storage.broadcast_responses import Responses

    async def go(services: Services) -> None:
        existing(await services.polls.get(poll_id), f"Poll {poll_id}")
        who = await person_with_role(
            services, set_by, {"or_member", "admin"}, "--set-by", refusal="is not an OR member"
        )
        by = who.id if who else None
        await Responses(services.session).set_target(poll_id, percent, by, services.now)
        await services.audit(
            "poll.target_set", actor_id=by, subject=f"poll:{poll_id}", target=percent
        )

    with_services(go)
    err.print(f"Poll {poll_id}: target response rate {percent}%.")
