"""Issue 15's figures: votes, latency, scale-out, roster, queueing, fan-out and memory.

Parts (--only, comma-separated; all by default):
  votes     the default deployment: one `achterban serve` that also delivers; signed WhatsApp
            votes (twilio's RequestValidator scheme) C at a time, every confirmation sent to a
            fake Twilio in this process (unpaced: the fake has no limit). Printed: votes/s
            acknowledged, votes/s until the last confirmation was accepted, the same
            server's /healthz/s in the same run and the ratio; then p99 acknowledgement
            latency at --rate votes/s offered (open loop). Exact tallies are checked.
  scaleout  the same storm on 2 serve (--no-worker) + 2 `achterban worker` vs the one
            process (PostgreSQL only: SQLite is one process).
  roster    `achterban roster import` of --people people.
  queue     `achterban poll create` to all of them (each with a WhatsApp account).
  dashboard --ballots ballots over 200 polls (PostgreSQL, bench/scale_dashboard.py), then
            the p95 of the dashboard pages and of `achterban stats`.
  fanout    --people recipients over Slack, Teams and WhatsApp fakes enforcing the real limits
            multiplied by --time-factor, one worker paced at the same multiple of its
            defaults (bench/fanout.py's machinery, PostgreSQL). Printed per platform: the
            rate reached as a share of the (scaled) limit (target >= 0.9), duplicates and
            losses, and the hours a broadcast to that many people takes at the real limits.
Peak RSS (VmHWM) of every serve and worker process started is printed; the machine's load
average goes with every figure: other work on the machine makes the figures noisy.

Run from the repository root, e.g.:
    .venv/bin/python bench/scale.py --only votes,roster --backend postgresql --people 20000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, insert, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import fanout, scale_dashboard  # noqa: E402
from bench.fleet import Fleet, fleet  # noqa: E402
from bench.votes import percentile, run_concurrently  # noqa: E402
from bench.webhooks import (  # noqa: E402
    ACCOUNT_SID,
    AUTH_TOKEN,
    OPTIONS,
    Client,
    closed_loop,
    cpu_seconds,
    create_poll,
    expected_counts,
    phone,
    roster_csv,
    server_env,
    whatsapp,
)
from bench.webhooks import cli as achterban  # noqa: E402
from bot.cli.common import fast_event_loop  # noqa: E402
from bot.pacing import DEFAULT_LIMITS, PUBLISHED  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import ChannelAccount, OutboxMessage, Person, utcnow  # noqa: E402
from tests.fakes.chaos import CHANNELS, Chaos  # noqa: E402
from tests.fakes.twilio_api import FakeTwilio  # noqa: E402

PARTS = ("votes", "scaleout", "roster", "queue", "dashboard", "fanout")
TARGETS = {
    "votes/s (PostgreSQL)": ">= 500",
    "ratio to /healthz": "aim 0.15",
    "p99 ack at 200/s": "< 100 ms",
    "scale-out 2+2 vs 1": ">= 1.6x",
    "roster import": "< 60 s",
    "poll queued to all": "< 20 s",
    "fan-out pace": ">= 0.9 of each limit",
    "peak RSS": "< 300 MB",
}
ROWS: list[dict[str, Any]] = []


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def row(part: str, backend: str, figure: str, value: str, verdict: str = "") -> None:
    ROWS.append({"part": part, "backend": backend, "figure": figure, "value": value,
                 "verdict": verdict, "load": load()})  # fmt: skip
    print(f"{part:<9} {backend:<10} {figure:<44} {value:>16} {verdict:<6} load {load()}",
          flush=True)  # fmt: skip


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISSED"


@asynccontextmanager
async def database(backend: str, tmp: Path) -> AsyncIterator[str]:
    if backend == "postgresql":
        async with fanout.scratch_database() as url:
            yield url
    else:
        yield f"sqlite+aiosqlite:///{tmp / f'scale-{uuid.uuid4().hex[:8]}.db'}"


async def undelivered(db: Database) -> int:
    async with db.transaction(read_only=True) as session:
        waiting = OutboxMessage.status.in_(("pending", "claimed", "sending"))
        stmt = select(func.count()).where(waiting)
        return int((await session.execute(stmt)).scalar_one())


async def drained(db: Database, fleet_: Fleet, seconds: float = 600) -> float:
    """Wait until the outbox is empty; returns when (monotonic)."""
    deadline = time.monotonic() + seconds
    while await undelivered(db):
        fleet_.sample_rss()
        if time.monotonic() > deadline:
            raise RuntimeError("the outbox did not drain")
        await asyncio.sleep(0.1)
    return time.monotonic()


async def offered_load(
    client: Client, deliveries: list[Any], rate: float
) -> tuple[list[float], int]:
    """bench/webhooks.py's open loop, but a request the server could not take (a reset
    connection when it is far behind) counts as an error instead of ending the bench; its
    latency counts as the time until it failed, so errors still raise the p99."""
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter() + 0.05

    async def one(n: int) -> None:
        nonlocal errors
        due = start + n / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        try:
            latencies.append(await client.post(n, deliveries[n], since=due))
        except aiohttp.ClientError:
            errors += 1
            latencies.append(time.perf_counter() - due)

    await asyncio.gather(*(one(n) for n in range(len(deliveries))))
    return sorted(latencies), errors


def votes_env(tmp: Path, url: str, twilio_url: str) -> dict[str, str]:
    env = {k: v for k, v in server_env(tmp, url, "http://127.0.0.1:9").items()
           if not k.startswith("SLACK_")}  # fmt: skip
    return env | {"ACHTERBAN_TWILIO_API_URL": twilio_url,
                  "ACHTERBAN_RATE_LIMITS": json.dumps({"whatsapp": 0})}  # fmt: skip


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine was busy since boot (/proc/stat: all but idle, iowait)."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


async def cpu_split(db: Database, before: dict[str, Any] | None = None) -> dict[str, Any]:
    """CPU seconds of the PostgreSQL backends of this database, of this process (the load
    generator and the fake platform) and of the whole machine (/proc/stat: all but idle and
    iowait): with `before`, what was used since. Where a vote's CPU goes, and whether the
    machine had any left, is the profile that says why a throughput target is missed."""
    pids: set[int] = set()
    if db.engine.dialect.name == "postgresql":
        async with db.transaction(read_only=True) as session:
            sql = text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            pids = set((await session.execute(sql)).scalars())
    if before is not None:
        pids |= before["pids"]
    now = {
        "pids": pids,
        "per_pid": cpu_seconds(pids),
        "bench": time.process_time(),
        "machine": machine_busy_seconds(),
    }
    if before is None:
        return now
    postgres = sum(t - before["per_pid"].get(p, 0.0) for p, t in now["per_pid"].items())
    return {
        "postgres": postgres,
        "bench": now["bench"] - before["bench"],
        "machine": now["machine"] - before["machine"],
    }


async def vote_run(
    backend: str, args: argparse.Namespace, serve: int, workers: int
) -> dict[str, float]:
    """Long because it is one scenario, step by step: roster, hello from everyone, a poll,
    /healthz, the vote storm until every confirmation is out, then the open loop."""
    voters, conc = args.voters, args.concurrency
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        twilio = await FakeTwilio(ACCOUNT_SID, AUTH_TOKEN).start()
        try:
            async with database(backend, tmp) as url:
                env = votes_env(tmp, url, twilio.url)
                await achterban(env, "db", "upgrade")
                (tmp / "roster.csv").write_text(roster_csv(voters), "utf-8")
                await achterban(env, "roster", "import", str(tmp / "roster.csv"))
                db = Database(url)
                try:
                    async with (
                        fleet(env, tmp, serve=serve, workers=workers, profile=args.profile) as f,
                        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http,
                    ):
                        client = Client(http, f.urls)
                        greet = [whatsapp(i, "hallo") for i in range(voters)]
                        await closed_loop(client, greet, conc, lambda: None)
                        await drained(db, f)
                        poll1, opts1 = await create_poll(env, db)
                        await drained(db, f)
                        count = max(5000, 2 * voters)
                        health = await run_concurrently(count, conc, client.healthz, lambda: None)
                        out["healthz_per_s"] = count / health
                        rng = random.Random(args.seed)
                        votes = [whatsapp(i, str(i % 3 + 1)) for i in range(voters)]
                        rng.shuffle(votes)
                        sent0, client.acked, client.refused = len(twilio.sent), 0, 0
                        started, cpu0 = time.monotonic(), cpu_seconds(f.pids)
                        split0 = await cpu_split(db)
                        seconds, lat = await closed_loop(client, votes, conc, lambda: None)
                        await client.redeliver(conc)
                        done = await drained(db, f)
                        cpu1 = cpu_seconds(f.pids)
                        # CPU of our processes per vote, confirmation included: what the load
                        # of other work on the machine does not change.
                        used = sum(t - cpu0.get(p, 0.0) for p, t in cpu1.items())
                        out["cpu_ms_per_vote"] = used / voters * 1000
                        split = await cpu_split(db, split0)
                        out["pg_ms_per_vote"] = split["postgres"] / voters * 1000
                        out["bench_ms_per_vote"] = split["bench"] / voters * 1000
                        out["cores_busy"] = split["machine"] / (done - started)
                        out["ack_per_s"] = voters / seconds
                        out["confirmed_per_s"] = voters / (done - started)
                        out["closed_p99_ms"] = percentile(lat, 99) * 1000
                        out["confirmations"] = len(twilio.sent) - sent0
                        out["refused"] = client.refused
                        if serve == 1 and not workers:
                            await create_poll(env, db)
                            await drained(db, f)
                            n = min(voters, int(args.rate * 15))
                            offered = [whatsapp(i, str((i + 1) % 3 + 1)) for i in range(n)]
                            rng.shuffle(offered)
                            open_lat, errors = await offered_load(client, offered, args.rate)
                            out["open_errors"] = errors
                            out["open_p99_ms"] = percentile(open_lat, 99) * 1000
                            out["open_p50_ms"] = percentile(open_lat, 50) * 1000
                            await drained(db, f)
                        f.sample_rss()
                    out["serve_rss_mb"] = max(f.peak_rss_mb.get(p, 0) for p in f.serve_pids)
                    if f.worker_pids:
                        peaks = [f.peak_rss_mb.get(p, 0) for p in f.worker_pids]
                        out["worker_rss_mb"] = max(peaks)
                    results = ["poll", "results", str(poll1), "--format", "json"]
                    res = json.loads(await achterban(env, *results))
                    counts = [o["count"] for o in res["options"]]
                    out["tally_ok"] = float(
                        counts == expected_counts(voters, 0) and len(opts1) == 3
                    )
                finally:
                    await db.dispose()
        finally:
            await twilio.close()
    return out


async def part_votes(backend: str, args: argparse.Namespace) -> dict[str, float]:
    r = await vote_run(backend, args, 1, 0)
    pg = backend == "postgresql"
    row("votes", backend, f"votes/s acknowledged ({args.voters} voters, C={args.concurrency})",
        f"{r['ack_per_s']:.0f}", verdict(r["ack_per_s"] >= 500) if pg else "")  # fmt: skip
    row("votes", backend, "votes/s until every confirmation sent", f"{r['confirmed_per_s']:.0f}",
        verdict(r["confirmed_per_s"] >= 500) if pg else "")  # fmt: skip
    row("votes", backend, "/healthz/s, same server, same run", f"{r['healthz_per_s']:.0f}")
    cpu = r["cpu_ms_per_vote"]
    row("votes", backend, "CPU of serve+worker per vote (ack + confirmation)", f"{cpu:.2f} ms",
        f"= {1000 / cpu:.0f}/s per core" if cpu else "")  # fmt: skip
    row("votes", backend, "CPU per vote: PostgreSQL / load generator + fake Twilio",
        f"{r['pg_ms_per_vote']:.2f}/{r['bench_ms_per_vote']:.2f} ms")  # fmt: skip
    row("votes", backend, f"machine busy during the storm (of {os.cpu_count()} cores)",
        f"{r['cores_busy']:.2f}")  # fmt: skip
    ratio = r["ack_per_s"] / r["healthz_per_s"]
    row("votes", backend, "ratio votes/s ÷ /healthz/s (aim 0.15)", f"{ratio:.3f}",
        verdict(ratio >= 0.15))  # fmt: skip
    row("votes", backend, f"p99 ack at {args.rate:.0f}/s offered (p50 {r['open_p50_ms']:.0f} ms,"
        f" {r['open_errors']:.0f} errors)",
        f"{r['open_p99_ms']:.0f} ms", verdict(r["open_p99_ms"] < 100))  # fmt: skip
    row("votes", backend, "confirmations sent / refused / tally exact",
        f"{r['confirmations']:.0f}/{r['refused']:.0f}/{bool(r['tally_ok'])}",
        verdict(r["confirmations"] == args.voters and bool(r["tally_ok"])))  # fmt: skip
    row("votes", backend, "peak RSS serve+worker (one process)", f"{r['serve_rss_mb']:.0f} MB",
        verdict(r["serve_rss_mb"] < 300))  # fmt: skip
    return r


async def part_scaleout(
    backend: str, args: argparse.Namespace, one: dict[str, float] | None
) -> None:
    if backend != "postgresql":
        return
    one = one or await vote_run(backend, args, 1, 0)
    many = await vote_run(backend, args, 2, 2)
    for key, what in (("ack_per_s", "acknowledged"), ("confirmed_per_s", "all confirmed")):
        ratio = many[key] / one[key]
        row("scaleout", backend, f"2 serve + 2 workers votes/s {what}",
            f"{many[key]:.0f} ({ratio:.2f}x)", verdict(ratio >= 1.6))  # fmt: skip
    row("scaleout", backend, f"machine busy, 1 vs 2+2 (of {os.cpu_count()} cores)",
        f"{one['cores_busy']:.2f} vs {many['cores_busy']:.2f}")  # fmt: skip
    row("scaleout", backend, "CPU per vote, 1 vs 2+2: ours / PostgreSQL",
        f"{one['cpu_ms_per_vote']:.2f}/{one['pg_ms_per_vote']:.2f} vs "
        f"{many['cpu_ms_per_vote']:.2f}/{many['pg_ms_per_vote']:.2f} ms")  # fmt: skip
    row("scaleout", backend, "peak RSS serve / worker", f"{many['serve_rss_mb']:.0f}/"
        f"{many.get('worker_rss_mb', 0):.0f} MB",
        verdict(max(many["serve_rss_mb"], many.get("worker_rss_mb", 0)) < 300))  # fmt: skip


async def part_roster_queue(backend: str, args: argparse.Namespace, parts: set[str]) -> None:
    """The roster through `achterban roster import` (--roster-people, default --people); the
    poll's people seeded in bulk when the import was not asked for (or has fewer), so that
    the queueing figure does not wait for a slow import."""
    people = args.people
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        async with database(backend, tmp) as url:
            env = votes_env(tmp, url, "http://127.0.0.1:9")  # nothing is sent
            await achterban(env, "db", "upgrade")
            imported = 0
            if "roster" in parts:
                imported = args.roster_people or people
                csv = roster_csv(imported)
                await asyncio.to_thread((tmp / "roster.csv").write_text, csv, "utf-8")
                started = time.monotonic()
                await achterban(env, "roster", "import", str(tmp / "roster.csv"))
                took = time.monotonic() - started
                row("roster", backend, f"roster import of {imported:,} people", f"{took:.1f} s",
                    verdict(took * people / imported < 60))  # fmt: skip
            if "queue" not in parts:
                return
            db = Database(url)
            try:
                await seed_people(db, imported, people)
                started = time.monotonic()
                await achterban(env, "poll", "create", "--question", "Akkoord?",
                                *(f"--option={o}" for o in OPTIONS))  # fmt: skip
                took = time.monotonic() - started
                queued = await undelivered(db)
            finally:
                await db.dispose()
            row("queue", backend, f"poll queued to all ({queued:,} rows; incl. CLI start)",
                f"{took:.1f} s", verdict(took < 20 and queued == people))  # fmt: skip


async def seed_people(db: Database, have: int, people: int) -> None:
    """People `have`..`people` in bulk, as the roster CSV would have them, then everyone
    reachable on WhatsApp as if they had written once (the 24-hour window open)."""
    async with db.transaction() as session:
        for k in range(have, people, 5000):
            batch = [{"name": f"Voter {i}", "email": f"voter{i}@example.org", "phone": phone(i),
                      "language": "nl"} for i in range(k, min(people, k + 5000))]  # fmt: skip
            await session.execute(insert(Person), batch)
    async with db.transaction() as session:
        ids = list((await session.execute(select(Person.id, Person.phone))).all())
        now = utcnow()
        rows = [{"channel": "whatsapp", "platform_id": p or phone(i), "person_id": i,
                 "last_inbound_at": now} for i, p in ids]  # fmt: skip
        for k in range(0, len(rows), 5000):
            await session.execute(insert(ChannelAccount), rows[k : k + 5000])


async def part_dashboard(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        async with database("postgresql", tmp) as url:
            env = votes_env(tmp, url, "http://127.0.0.1:9")  # nothing is sent
            await scale_dashboard.run(
                url, env, tmp, achterban, args.ballots, args.page_runs, row, verdict
            )


async def part_fanout(args: argparse.Namespace) -> None:
    k = args.time_factor
    chaos = {c: Chaos(per_second=PUBLISHED[c] * k, seed=i) for i, c in enumerate(CHANNELS)}
    rates = json.dumps({c: DEFAULT_LIMITS[c].per_second * k for c in CHANNELS})
    with tempfile.TemporaryDirectory() as tmp:
        run = await fanout.with_workers("scale", args.people, 1, chaos, rates, Path(tmp))
    row("fanout", "postgresql", f"{args.people:,} recipients, limits x{k:g}: wall",
        f"{run.wall_s:.0f} s", verdict(run.duplicates == 0 and run.losses == 0))  # fmt: skip
    row(
        "fanout",
        "postgresql",
        "duplicates / losses / 429s for pace",
        f"{run.duplicates}/{run.losses}/{sum(run.limited.values())}",
    )
    # 1.00: the worker had a core to itself throughout and was CPU-bound (bench/fanout.py).
    row("fanout", "postgresql", "CPU s per wall s: worker; bench and fakes",
        f"{run.worker_cpu:.2f}; {run.bench_cpu:.2f}")  # fmt: skip
    share = args.people / len(CHANNELS)
    for c in CHANNELS:
        # First to last accepted (the verdict: a broadcast lasts until its last message);
        # steady: 1st to 99th percentile, and how long the last 1 % took (stragglers).
        ratio = run.per_platform[c] / (PUBLISHED[c] * k)
        steady = run.steady[c] / (PUBLISHED[c] * k)
        hours = share / (ratio * PUBLISHED[c]) / 3600 if ratio else float("inf")
        row("fanout", "postgresql", f"{c}: pace ÷ limit; hours for {share:,.0f} at real limit",
            f"{ratio:.2f}; {hours:.2f} h", verdict(ratio >= 0.9))  # fmt: skip
        row("fanout", "postgresql", f"{c}: steady pace ÷ limit; last 1 %; 429s over limit",
            f"{steady:.2f}; {run.tail_s[c]:.1f} s; {run.limited[c]}")  # fmt: skip


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(PARTS), help=f"parts: {','.join(PARTS)}")
    parser.add_argument("--backend", default="sqlite,postgresql")
    parser.add_argument("--people", type=int, default=100_000, help="roster, queue, fan-out")
    parser.add_argument("--voters", type=int, default=3000)
    parser.add_argument("--roster-people", type=int, help="roster import size (default --people)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument(
        "--time-factor", type=float, default=10.0, help="fan-out: limits and pacing times this"
    )
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--ballots", type=int, default=1_000_000)
    parser.add_argument("--page-runs", type=int, default=20, help="requests per page for p95")
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument("--profile", type=Path, help="votes: cProfile the serve processes into DIR")
    args = parser.parse_args(argv)
    parts = set(args.only.split(","))
    print(f"bench/scale.py {' '.join(argv or sys.argv[1:])}; {os.cpu_count()} CPUs; "
          f"load {load()}; targets: {TARGETS}", flush=True)  # fmt: skip
    for backend in args.backend.split(","):
        one = await part_votes(backend, args) if "votes" in parts else None
        if "scaleout" in parts:
            await part_scaleout(backend, args, one)
        if parts & {"roster", "queue"}:
            await part_roster_queue(backend, args, parts)
        if "dashboard" in parts and backend == "postgresql":
            await part_dashboard(args)
    if "fanout" in parts:
        await part_fanout(args)
    if args.json:
        await asyncio.to_thread(Path(args.json).write_text, json.dumps(ROWS, indent=2), "utf-8")
    return 0


if __name__ == "__main__":
    with asyncio.Runner(loop_factory=fast_event_loop) as runner:
        sys.exit(runner.run(main()))
