"""Helpers shared by the CLI commands: settings, database, output formats.

Every `--format json` output is one JSON document on stdout; messages go to stderr.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from enum import StrEnum
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from bot.config import Settings, load_settings
from bot.csvsafe import write_csv
from bot.errors import AchterbanError
from storage.db import Database

T = TypeVar("T")
err = Console(stderr=True, highlight=False, soft_wrap=True)


class Format(StrEnum):
    json = "json"
    csv = "csv"
    table = "table"


def settings() -> Settings:
    try:
        return load_settings()
    except Exception as exc:  # pydantic ValidationError: say which setting is wrong
        err.print(f"[red]Invalid settings:[/red] {exc}")
        raise typer.Exit(2) from exc


def prepare_database(cfg: Settings) -> None:
    """SQLite is upgraded automatically (embedded use); PostgreSQL only by `db upgrade`."""
    if cfg.is_sqlite:
        from storage.migrate import upgrade

        upgrade(cfg.db_url)


def run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except AchterbanError as exc:
        err.print(f"[red]Error:[/red] {exc}")
        raise typer.Exit(1) from exc


@asynccontextmanager
async def database(cfg: Settings) -> AsyncIterator[Database]:
    db = Database(cfg.db_url)
    try:
        yield db
    finally:
        await db.dispose()


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]{message}[/red]")
    return typer.Exit(code)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def print_rows(
    fmt: Format, header: Sequence[str], rows: Sequence[Sequence[Any]], title: str
) -> None:
    """csv or table output of rows (json is built by each command, with its own shape)."""
    if fmt is Format.csv:
        write_csv(sys.stdout, header, rows)
        return
    table = Table(title=title)
    for h in header:
        table.add_column(h)
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    Console().print(table)
