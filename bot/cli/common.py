"""Helpers shared by the CLI commands: settings, database, option parsing, output formats.

Every `--format json` output is one JSON document on stdout; messages go to stderr.
Every command imports this module: what only some helpers use (the time parser, tables,
CSV) is imported inside them, so that `achterban stats` starts fast (issue 15).
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from collections.abc import Set as AbstractSet
from contextlib import asynccontextmanager
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar, overload
from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from bot.config import Settings, load_settings
from bot.errors import AchterbanError
from storage.db import Database

if TYPE_CHECKING:
    import sqlite3

    from bot.conversation import Services
    from storage.models import Person

T = TypeVar("T")
X = TypeVar("X")
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
    """SQLite is upgraded automatically (embedded use); PostgreSQL only by `db upgrade`.

    A SQLite file that cannot be opened or is no database (unreadable, a directory, another
    file at its path) ends the command with one line saying so (exit 1), not a traceback.
    A file already at the newest migration is not handed to Alembic: loading it and every
    migration script took ~0.3 s of each command (issue 15: `achterban stats` in 2 s)."""
    if cfg.is_sqlite:
        import contextlib
        import sqlite3
        from pathlib import Path

        from rich.markup import escape
        from sqlalchemy.exc import DBAPIError

        path = cfg.db_url.split("///", 1)[-1]
        try:
            if path != ":memory:" and Path(path).exists():
                # Opened here first, without an event loop: an unusable file is reported
                # before Alembic's async engine trips over it.
                uri = Path(path).resolve().as_uri() + "?mode=rw"
                with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
                    db.execute("PRAGMA schema_version").fetchone()
                    head = newest_migration()
                    if head and _sqlite_revision(db) == head:
                        return
            from storage.migrate import upgrade

            upgrade(cfg.db_url)
        except (sqlite3.Error, DBAPIError, OSError) as exc:
            reason = getattr(exc, "orig", None) or exc
            raise fail(escape(f"Cannot open the SQLite database {path}: {reason}")) from exc


def newest_migration() -> str:
    """The head revision without Alembic: migrations are `NNNN_name.py` with revision "NNNN"
    in one line (tests/cli/test_startup.py checks that this is Alembic's head)."""
    from pathlib import Path

    versions = Path(__file__).resolve().parents[2] / "storage" / "migrations" / "versions"
    return max((p.name[:4] for p in versions.glob("[0-9][0-9][0-9][0-9]_*.py")), default="")


def _sqlite_revision(db: sqlite3.Connection) -> str | None:
    """The revision an SQLite file is at (None when it has no schema yet)."""
    exists = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    if db.execute(exists).fetchone() is None:
        return None
    rows = db.execute("SELECT version_num FROM alembic_version").fetchall()
    return rows[0][0] if len(rows) == 1 else None


def fast_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (not on Windows): the long-running processes spend
    noticeably less CPU per request and per send on it than on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def settle_garbage_collector() -> None:
    """For a long-running process, once started. What start-up loaded lives as long as the
    process: frozen, out of the collector's sight, a full collection no longer walks it (tens
    of milliseconds, several times a minute under load). Young collections come every 20,000
    allocations instead of 700: with fifty requests or sends in flight most young objects are
    still alive, and walking them again and again was 6 % of a serve process's CPU in
    bench/webhooks.py."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def exit_without_collecting() -> None:
    """For a command that ends when its work is done: at exit, everything it loaded stays out
    of the interpreter's last garbage collection, which walked every object of SQLAlchemy,
    pydantic and the models for ~0.1 s (of `achterban stats`' 2 s, issue 15). Output is still
    flushed and atexit handlers still run; nothing is left that needs a finalizer."""
    import atexit

    atexit.register(gc.freeze)


def run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except AchterbanError as exc:
        err.print(f"[red]Error:[/red] {exc}")
        raise typer.Exit(1) from exc


@asynccontextmanager
async def database(cfg: Settings) -> AsyncIterator[Database]:
    db = Database(cfg.db_url, pool_size=cfg.db_pool_size)
    try:
        yield db
    finally:
        await db.dispose()


def with_services(
    fn: Callable[[Services], Awaitable[T]], *, read_only: bool = False, cfg: Settings | None = None
) -> T:
    """Run `fn` in one transaction with the Services the dialogs use, and return its result.

    `cfg` is for a command that needed the settings earlier (to check its options first);
    without it they are loaded here. The engine is imported here, not at the top, so that
    `achterban --help` does not load the engine and everything behind it.
    """
    from bot.app import new_engine

    cfg = cfg if cfg is not None else settings()
    prepare_database(cfg)

    async def go() -> T:
        async with database(cfg) as db, db.transaction(read_only=read_only) as session:
            return await fn(new_engine(db, cfg).services(session))

    return run(go())


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]{message}[/red]")
    return typer.Exit(code)


def existing(item: X | None, what: str) -> X:
    """`item` as found by its id; None ends the command: "<what> does not exist." (exit 1)."""
    if item is None:
        raise fail(f"{what} does not exist.")
    return item


@overload
def iso_time(value: str, tz: ZoneInfo, option: str) -> datetime: ...


@overload
def iso_time(value: str | None, tz: ZoneInfo, option: str) -> datetime | None: ...


def iso_time(value: str | None, tz: ZoneInfo, option: str) -> datetime | None:
    """A time option (None if not given): ISO-8601 (without an offset, local time `tz`), or
    words as the chat reads them ("vanavond 19:30", "morgen 9u", "friday 17:00"). Words are
    echoed on stderr; an ambiguous, past or unreadable time is refused, never guessed."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return _time_in_words(value, tz, option)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def _time_in_words(value: str, tz: ZoneInfo, option: str) -> datetime:
    from bot.understand.times import AmbiguousTime, At, Past, parse_time, say_when

    now = datetime.now(tz)
    read = parse_time(value, now=now, tz=tz)
    if isinstance(read, At):
        err.print(f"{option}: {say_when(read.when, 'en', tz=tz, now=now)}", markup=False)
        return read.when
    if isinstance(read, AmbiguousTime):
        options = " or ".join(say_when(o, "en", tz=tz, now=now) for o in read.options)
        raise fail(f"{option}: {value!r} could mean {options}; give the time in full.", 2)
    if isinstance(read, Past):
        raise fail(f"{option}: {value!r} is in the past.", 2)
    raise fail(f"{option}: not a time: {value!r} (ISO-8601 or e.g. 'morgen 17:00').", 2)


async def person_with_role(
    services: Services,
    email: str | None,
    roles: AbstractSet[str],
    option: str,
    *,
    refusal: str | None = None,
) -> Person | None:
    """The person behind --created-by/--by, who must hold one of `roles`.

    `refusal` replaces the standard "does not have the role …" when the person lacks them.
    """
    if not email:
        return None
    person = await services.people.by_email(email)
    if person is None:
        raise fail(f"{option}: no person with e-mail {email}", 2)
    if not await services.people.roles(person.id) & roles:
        refusal = refusal or f"does not have the role {' or '.join(sorted(roles))}"
        raise fail(f"{option}: {email} {refusal}", 2)
    return person


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def print_created(fmt: Format | None, created: Mapping[str, Any]) -> None:
    """A create command's stdout: `created` with --format json, else only the id (for scripts)."""
    if fmt is Format.json:
        print_json(created)
    else:
        typer.echo(created["id"])


def print_rows(
    fmt: Format, header: Sequence[str], rows: Sequence[Sequence[Any]], title: str
) -> None:
    """csv or table output of rows (json is built by each command, with its own shape)."""
    from rich.table import Table

    from bot.csvsafe import write_csv

    if fmt is Format.csv:
        write_csv(sys.stdout, header, rows)
        return
    table = Table(title=title)
    for h in header:
        table.add_column(h)
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    Console().print(table)


def print_records(
    fmt: Format, records: Sequence[Mapping[str, Any]], header: Sequence[str], title: str
) -> None:
    """json prints `records` as they are; csv and table the `header` fields of each."""
    if fmt is Format.json:
        print_json(records)
        return
    print_rows(fmt, header, [[r[h] for h in header] for r in records], title)
