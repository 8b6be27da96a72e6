"""Votes per second through the engine, against the store's own limit, on SQLite and PostgreSQL.

N people press a poll button at once (C at a time) through Engine.handle — the whole flow of one
event, no HTTP. In the same run the same Database does bare single-row INSERT transactions at
the same concurrency: what the store itself can commit. votes/s ÷ inserts/s says what the engine
costs on top of a commit, largely whatever the machine's speed. The tally must equal the number
of voters: that is correctness, so it decides the exit status; the timing never does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import asyncpg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bot.app import new_engine
from bot.config import Settings
from bot.engine import Engine
from bot.messages import Incoming, Profile
from bot.usecases.polls import open_poll, vote_payload
from storage.db import Database
from storage.inbound import record_event
from storage.migrate import upgrade_async
from storage.models import Person
from storage.people import Audience

TARGET_RATIO = 0.3  # on PostgreSQL; SQLite serialises every writer, so its ratio is informative
OPTIONS = ["Ja", "Nee", "Weet niet"]


@dataclass
class Result:
    backend: str
    people: int
    concurrency: int
    votes_per_s: float
    p50_ms: float
    p99_ms: float
    inserts_per_s: float
    ratio: float
    verdict: str | None  # PASS / BELOW TARGET on PostgreSQL, None elsewhere
    tally: int
    tally_ok: bool


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest rank, no interpolation: p99 of 500 samples is the 495th."""
    return sorted_values[max(1, math.ceil(q / 100 * len(sorted_values))) - 1]


async def run_concurrently(
    count: int, concurrency: int, job: Callable[[int], Awaitable[None]], advance: Callable[[], None]
) -> float:
    """Run job(0..count-1) on `concurrency` workers; returns the wall time in seconds."""
    todo = iter(range(count))

    async def worker() -> None:
        for i in todo:  # one shared iterator: each index goes to exactly one worker
            await job(i)
            advance()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def seed(engine: Engine, people: int, anonymous: bool) -> tuple[int, list[int]]:
    """`people` colleagues and an open poll for everyone (opening links their console mailbox)."""
    async with engine.db.transaction() as session:
        session.add_all(
            Person(name=f"Voter {i}", email=f"voter{i}@example.org", language="nl")
            for i in range(people)
        )
    async with engine.db.transaction() as session:
        services = engine.services(session)
        poll = await services.polls.create(
            question="Bench: akkoord?", options=OPTIONS, multiple=False, anonymous=anonymous,
            hide_results=False, audience=Audience(), opens_at=services.now, closes_at=None,
            created_by=None,
        )  # fmt: skip
        await open_poll(services, poll)
        return poll.id, [o.id for o in await services.polls.options(poll.id)]


async def measure(
    backend: str, engine: Engine, args: argparse.Namespace, progress: Progress
) -> Result:
    people, concurrency = args.people, args.concurrency
    poll_id, option_ids = await seed(engine, people, args.anonymous)
    run = uuid.uuid4().hex[:8]

    async def insert_one(i: int) -> None:
        # The cheapest transaction there is: the one the engine opens per event, with the one
        # statement every event starts with (the register of events).
        async with engine.db.event() as unit:
            await record_event(unit, "bench", f"{run}-{i}")

    # Warm the pool first, so neither measurement pays for opening connections.
    await run_concurrently(concurrency, concurrency, lambda i: insert_one(-1 - i), lambda: None)
    task = progress.add_task(f"{backend}: bare inserts", total=people)
    insert_s = await run_concurrently(
        people, concurrency, insert_one, lambda: progress.advance(task)
    )

    latencies: list[float] = []
    not_counted: list[int] = []

    async def vote(i: int) -> None:
        email = f"voter{i}@example.org"
        incoming = Incoming(
            channel="console",
            event_id=f"vote-{run}-{i}",
            account=email,
            choice=vote_payload(poll_id, option_ids[i % len(option_ids)]),
            profile=Profile(email=email),
        )
        started = time.perf_counter()
        outcome = await engine.handle(incoming)
        latencies.append(time.perf_counter() - started)
        if outcome.duplicate or outcome.refused:
            not_counted.append(i)

    task = progress.add_task(f"{backend}: votes", total=people)
    vote_s = await run_concurrently(people, concurrency, vote, lambda: progress.advance(task))

    async with engine.db.transaction(read_only=True) as session:
        polls = engine.services(session).polls
        poll = await polls.get(poll_id)
        assert poll is not None
        tally = await polls.tally(poll)
    counts = [o.count for o in tally.options]
    expected = [len(range(k, people, len(option_ids))) for k in range(len(option_ids))]
    tally_ok = not not_counted and counts == expected and tally.participants == people
    latencies.sort()
    ratio = insert_s / vote_s  # (people / vote_s) / (people / insert_s)
    passed = "PASS" if ratio >= TARGET_RATIO else "BELOW TARGET"
    verdict = passed if backend == "postgresql" else None
    return Result(
        backend, people, concurrency, people / vote_s, percentile(latencies, 50) * 1000,
        percentile(latencies, 99) * 1000, people / insert_s, ratio, verdict, sum(counts), tally_ok,
    )  # fmt: skip


async def bench_backend(
    backend: str, url: str, args: argparse.Namespace, progress: Progress
) -> Result:
    await upgrade_async(url)
    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(database_url=url, data_dir=Path(data_dir), _env_file=None)  # type: ignore[call-arg]
        db = Database(url)
        try:
            return await measure(backend, new_engine(db, settings), args, progress)
        finally:
            await db.dispose()


async def admin_sql(args: argparse.Namespace, sql: str) -> None:
    conn = await asyncpg.connect(args.pg_admin, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def run_postgresql(args: argparse.Namespace, progress: Progress) -> Result:
    """A throw-away database on the server, dropped whatever happens."""
    name = f"achterban_bench_{uuid.uuid4().hex[:12]}"
    await admin_sql(args, f'CREATE DATABASE "{name}"')
    base = args.pg_admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        return await bench_backend("postgresql", f"{base}/{name}", args, progress)
    finally:
        await admin_sql(args, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def run_sqlite(args: argparse.Namespace, progress: Progress) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        return await bench_backend("sqlite", f"sqlite+aiosqlite:///{tmp}/bench.db", args, progress)


def table(results: list[Result], machine: dict[str, object]) -> Table:
    out = Table(
        title=f"Votes through the engine ({machine['nproc']} CPUs, Python {machine['python']})",
        caption=f"ratio = votes/s ÷ bare inserts/s; target ≥ {TARGET_RATIO} on PostgreSQL",
    )
    for name in ("backend", "people", "conc", "votes/s", "p50 ms", "p99 ms", "inserts/s"):
        out.add_column(name, justify="left" if name == "backend" else "right")
    for name in ("ratio", "verdict", "tally"):
        out.add_column(name, justify="right")
    verdicts = {"PASS": "[green]PASS[/]", "BELOW TARGET": "[red]BELOW TARGET[/]", None: "—"}
    for r in results:
        tally = f"{r.tally}/{r.people}" + ("" if r.tally_ok else " [red]WRONG[/]")
        out.add_row(
            r.backend, str(r.people), str(r.concurrency), f"{r.votes_per_s:.0f}",
            f"{r.p50_ms:.1f}", f"{r.p99_ms:.1f}", f"{r.inserts_per_s:.0f}", f"{r.ratio:.2f}",
            verdicts[r.verdict], tally,
        )  # fmt: skip
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=500, help="voters (default 500)")
    parser.add_argument("--concurrency", type=int, default=50, help="in flight (default 50)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated")
    parser.add_argument("--anonymous", action="store_true", help="an anonymous poll")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--pg-admin",
        default=os.environ.get("ACHTERBAN_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="PostgreSQL URL allowed to CREATE/DROP DATABASE",
    )  # fmt: skip
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if set(args.backends) - {"sqlite", "postgresql"} or min(args.people, args.concurrency) < 1:
        parser.error("backends are sqlite and/or postgresql; people and concurrency are >= 1")
    return args


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=args.json)
    if not console.is_terminal:
        console.width = max(console.width, 110)  # a log file: keep the table on one line a row
    machine = {"nproc": len(os.sched_getaffinity(0)), "python": sys.version.split()[0]}
    runners = {"sqlite": run_sqlite, "postgresql": run_postgresql}
    results: list[Result] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as progress:
        for backend in args.backends:
            try:
                results.append(await runners[backend](args, progress))
            except (OSError, asyncpg.PostgresError) as exc:
                console.print(f"[red]{backend}: the database is not reachable ({exc})[/]")
                return 2
    if args.json:
        print(json.dumps({"machine": machine, "results": [asdict(r) for r in results]}, indent=2))
    else:
        console.print(table(results, machine))
    wrong = [r.backend for r in results if not r.tally_ok]
    if wrong:
        console.print(f"[red]tally differs from the number of voters on {', '.join(wrong)}[/]")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
