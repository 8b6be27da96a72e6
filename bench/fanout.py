"""Fan-out: 10,000 recipients across Slack, Teams and WhatsApp, delivered by worker processes.

1. Paced: the fake platform APIs (real HTTP on loopback, served from this process; the Bot
   Connector in its own thread) enforce the platforms' limits — 429 with Retry-After when a
   token bucket at the limit is empty — and inject random 429s, 5xx and slow answers. One
   `achterban worker`-like process with the default pacing delivers on PostgreSQL. Printed:
   messages/s per platform as a ratio of its configured limit (target >= 0.9), duplicates and
   losses (both must be 0, from the fakes' logs) and the wall time.
2. Ceiling: no limits, no faults. One and two worker processes on PostgreSQL, and a bare
   aiohttp client (its own process, 32 requests in flight per platform like a worker) sending
   the same HTTP requests to the same fakes in the same run. Worker ÷ bare >= 0.5 is the target.

Timing never decides the exit status: 0, or 1 when a message was duplicated or lost, 2 when
PostgreSQL is not reachable. Run from the repository root:
    .venv/bin/python bench/fanout.py [--people 10000] [--skip-paced] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fakes live with the tests

from adapters import slack_render, teams_cards  # noqa: E402
from bot.app import new_engine  # noqa: E402
from bot.cli.common import fast_event_loop  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.delivery import DEFAULT_CONCURRENCY  # noqa: E402
from bot.messages import Outgoing, Purpose  # noqa: E402
from bot.pacing import DEFAULT_LIMITS, PUBLISHED  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.migrate import upgrade_async  # noqa: E402
from tests.engine.test_delivery_scale import queue_news, seed, statuses, teams_reference  # noqa: E402
from tests.engine.test_worker_crash import worker_env, worker_process  # noqa: E402
from tests.fakes.chaos import (  # noqa: E402
    ACCOUNT_SID,
    APP_ID,
    APP_PASSWORD,
    AUTH_TOKEN,
    CHANNELS,
    SENDER,
    Chaos,
    Fakes,
    running_fakes,
)
from tests.fakes.slack_api import TOKEN  # noqa: E402

LIMIT_TARGET = 0.9
CEILING_TARGET = 0.5
UNLIMITED = json.dumps(dict.fromkeys(CHANNELS, 0))
ONLY: str | None = None  # --only: one platform's share of the recipients
PG_ADMIN = os.environ.get("ACHTERBAN_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass
class Run:
    name: str
    wall_s: float  # from the rows being queued (or the client starting) to the last accepted
    per_s: float  # messages/s from the first to the last accepted
    per_platform: dict[str, float] = field(default_factory=dict)
    limited: dict[str, int] = field(default_factory=dict)  # 429s for going over the limit
    injected: dict[str, int] = field(default_factory=dict)  # 429s drawn at random (Chaos)
    # Per platform: messages/s between the 1st and the 99th percentile of the accepted (the
    # steady pace, without the start and the stragglers), and seconds the last 1 % took.
    steady: dict[str, float] = field(default_factory=dict)
    tail_s: dict[str, float] = field(default_factory=dict)
    duplicates: int = 0
    losses: int = 0
    # CPU seconds (user + system) per wall second from queueing until all rows were sent: the
    # worker processes' (1.0: one core busy throughout), and this process's (queueing, the
    # fakes and the Bot Connector's thread).
    worker_cpu: float = 0.0
    bench_cpu: float = 0.0
    worker_cpu_s: float = 0.0  # the workers' CPU seconds in all


def per_second(times: list[float]) -> float:
    times = sorted(times)
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0


def steady_per_second(times: list[float], cut: float = 0.01) -> float:
    """Messages/s between the `cut` and 1 - `cut` quantiles of the accepted times."""
    times = sorted(times)
    first, last = int(len(times) * cut), len(times) - 1 - int(len(times) * cut)
    return per_second(times[first : last + 1]) if last > first else per_second(times)


def tail_seconds(times: list[float], cut: float = 0.01) -> float:
    """Seconds from the 1 - `cut` quantile of the accepted times to the last."""
    times = sorted(times)
    return times[-1] - times[len(times) - 1 - int(len(times) * cut)] if times else 0.0


def summarise(name: str, fakes: Fakes, people: dict[int, str], started: float) -> Run:
    times = {c: list(f.chaos.times) for c, f in zip(CHANNELS, fakes.all, strict=True)}
    every = sorted(t for ts in times.values() for t in ts)
    copies = fakes.copies()
    duplicates = sum(n - 1 for counts in copies.values() for n in counts.values() if n > 1)
    losses = sum(1 for p, c in people.items() if copies[c][p] == 0)
    return Run(
        name, (every[-1] - started) if every else 0.0, per_second(every),
        {c: per_second(ts) for c, ts in times.items()},
        {c: f.chaos.limited for c, f in zip(CHANNELS, fakes.all, strict=True)},
        {c: f.chaos.injected for c, f in zip(CHANNELS, fakes.all, strict=True)},
        {c: steady_per_second(ts) for c, ts in times.items()},
        {c: tail_seconds(ts) for c, ts in times.items()},
        duplicates, losses,
    )  # fmt: skip


@asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    """A throw-away database `achterban_bench_…` on the server, dropped whatever happens."""
    name = f"achterban_bench_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        await upgrade_async(f"{base}/{name}")
        yield f"{base}/{name}"
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def with_workers(
    name: str, people: int, workers: int, chaos: dict[str, Chaos], rates: str | None, tmp: Path
) -> Run:
    """Queue `people` messages and let `workers` processes deliver them."""
    async with AsyncExitStack() as stack:
        url = await stack.enter_async_context(scratch_database())
        fakes = await stack.enter_async_context(running_fakes(tmp, chaos))
        db = Database(url)
        stack.push_async_callback(db.dispose)
        where = _only(await seed(db, fakes, people), ONLY)
        # The default lease: rows wait in memory for the pacer (Slack: 20/s) far longer than
        # the tests' 2 s.
        extra = {"ACHTERBAN_DELIVERY_BATCH_SIZE": "200", "ACHTERBAN_DELIVERY_LEASE_SECONDS": "300"}
        procs = []
        for i in range(workers):
            env = {**worker_env(fakes, url, tmp), **extra}
            env["ACHTERBAN_RATE_LIMITS"] = rates or json.dumps(
                {c: DEFAULT_LIMITS[c].per_second / workers for c in CHANNELS}
            )
            proc = await stack.enter_async_context(worker_process(env, tmp / f"{name}-{i}.log"))
            assert proc.stdout is not None
            await asyncio.wait_for(proc.stdout.readline(), 60)
            procs.append(proc)
        started = time.monotonic()
        cpu = [cpu_seconds(p.pid) for p in procs], time.process_time()
        settings = fakes.settings(Settings(database_url=url, data_dir=tmp, _env_file=None))  # type: ignore[call-arg]
        await queue_news(new_engine(db, settings), list(where))
        while (await statuses(db))["sent"] < len(where):
            if any(p.returncode is not None for p in procs):
                raise RuntimeError(f"a worker stopped; see {tmp}/{name}-*.log")
            await asyncio.sleep(0.5)
        run = summarise(name, fakes, where, started)
        wall = time.monotonic() - started
        used = sum(cpu_seconds(p.pid) - c for p, c in zip(procs, cpu[0], strict=True))
        run.worker_cpu, run.bench_cpu = used / wall, (time.process_time() - cpu[1]) / wall
        run.worker_cpu_s = used
        return run


def cpu_seconds(pid: int) -> float:
    """A process's CPU time so far (user + system), from /proc; 0 where there is none."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _only(where: dict[int, str], channel: str | None) -> dict[int, str]:
    return {p: c for p, c in where.items() if channel in (None, c)}


async def bare(people: int, tmp: Path) -> Run:
    """The same requests from a plain aiohttp client in its own process."""
    async with running_fakes(tmp) as fakes:
        where = _only({pid: CHANNELS[(pid - 1) % 3] for pid in range(1, people + 1)}, ONLY)
        jobs = [
            _job(fakes, pid, channel, await _teams_token(fakes)) for pid, channel in where.items()
        ]
        path = tmp / "bare.json"
        path.write_text(json.dumps(jobs))
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--bare", str(path), cwd=ROOT, stderr=asyncio.subprocess.PIPE
        )
        _, err = await proc.communicate()
        if proc.returncode:
            raise RuntimeError(err.decode()[-2000:])
        return summarise("bare aiohttp", fakes, where, started)


_token_cache: dict[str, str] = {}


async def _teams_token(fakes: Fakes) -> str:
    """One Bot Framework token, as MSAL fetches it once (the login is TLS with a test CA)."""
    if fakes.teams.login_url not in _token_cache:
        ctx = ssl.create_default_context(cafile=fakes.teams.ca_file)
        form = {
            "grant_type": "client_credentials",
            "client_id": APP_ID,
            "client_secret": APP_PASSWORD,
            "scope": "https://api.botframework.com/.default",
        }
        async with (
            aiohttp.ClientSession() as http,
            http.post(fakes.teams.login_url + "/oauth2/token", data=form, ssl=ctx) as resp,
        ):
            _token_cache[fakes.teams.login_url] = (await resp.json())["access_token"]
    return _token_cache[fakes.teams.login_url]


def _job(fakes: Fakes, pid: int, channel: str, teams_token: str) -> dict[str, Any]:
    """The requests a worker makes for one message, as plain HTTP."""
    text = Outgoing(text=f"Nieuws voor iedereen #{pid}.", purpose=Purpose.BROADCAST)
    if channel == "slack":
        user = f"U{pid:08d}"
        fakes.slack.add_user(user, f"c{pid}@example.org")
        rendered = slack_render.render(text, lambda m: m)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        metadata = {"event_type": "achterban_outbox", "event_payload": {"key": str(pid)}}
        post = {"channel": "D" + user[1:], "text": rendered["text"],
                "blocks": rendered["blocks"], "metadata": metadata}  # fmt: skip
        return {"channel": channel, "requests": [
            {"url": fakes.slack.api_url + "conversations.open", "headers": auth,
             "data": {"users": user}},
            {"url": fakes.slack.api_url + "chat.postMessage", "headers": auth, "json": post},
        ]}  # fmt: skip
    if channel == "teams":
        ref = teams_reference(fakes.teams.url, pid)
        activity = {**teams_cards.render(text, lambda m: m)["activity"], "from": ref["bot"],
                    "recipient": ref["user"], "conversation": ref["conversation"],
                    "channelId": "msteams", "serviceUrl": ref["serviceUrl"]}  # fmt: skip
        url = f"{fakes.teams.url}v3/conversations/{ref['conversation']['id']}/activities"
        headers = {"Authorization": f"Bearer {teams_token}"}
        return {
            "channel": channel,
            "requests": [{"url": url, "headers": headers, "json": activity}],
        }
    basic = aiohttp.encode_basic_auth(ACCOUNT_SID, AUTH_TOKEN)
    form = {"To": f"whatsapp:+3161{pid:07d}", "From": SENDER, "Body": text.text,
            "StatusCallback": "https://bench.example/twilio/status"}  # fmt: skip
    url = f"{fakes.whatsapp.url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    return {"channel": channel, "requests": [{"url": url, "headers": {"Authorization": basic},
                                              "data": form}]}  # fmt: skip


async def bare_client(path: str) -> int:
    """--bare: send every job (its requests in order), 32 jobs in flight per platform."""
    jobs = json.loads(await asyncio.to_thread(Path(path).read_text))
    slots = {c: asyncio.Semaphore(DEFAULT_CONCURRENCY) for c in CHANNELS}
    failed = 0
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def run(job: dict[str, Any]) -> None:
            nonlocal failed
            async with slots[job["channel"]]:
                for r in job["requests"]:
                    body = {k: r[k] for k in ("json", "data") if k in r}
                    async with http.post(r["url"], headers=r["headers"], **body) as resp:
                        await resp.read()
                        failed += resp.status >= 300

        await asyncio.gather(*(run(job) for job in jobs))
    print(f"bare client: {len(jobs)} jobs, {failed} failed requests", file=sys.stderr)
    return 1 if failed else 0


def verdict(ratio: float, target: float) -> str:
    return "PASS" if ratio >= target else "BELOW TARGET"


def report(paced: Run | None, ceiling: list[Run], people: int, load: tuple[str, str]) -> str:
    share = f"only {ONLY} (a third)" if ONLY else "a third per platform"
    lines = [
        f"fan-out to {people} recipients, {share}; {os.cpu_count()} CPUs; "
        f"load average at start {load[0]}, at end {load[1]}"
    ]
    if paced is not None:
        lines += ["", "1. paced: fakes enforce the published limits, random 429/5xx/slow; "
                  "1 worker, PostgreSQL",
                  f"   {'platform':<9} {'published':>9} {'configured':>10} {'achieved/s':>10} "
                  f"{'ratio':>6} {'steady':>6} {'tail s':>6} {'429 over limit':>14} "
                  f"{'429 random':>10}  verdict"]  # fmt: skip
        for c in CHANNELS:
            limit = DEFAULT_LIMITS[c].per_second
            ratio = paced.per_platform[c] / limit
            lines.append(f"   {c:<9} {PUBLISHED[c]:>9.0f} {limit:>10.1f} "
                         f"{paced.per_platform[c]:>10.1f} {ratio:>6.2f} "
                         f"{paced.steady[c] / limit:>6.2f} {paced.tail_s[c]:>6.1f} "
                         f"{paced.limited[c]:>14} {paced.injected[c]:>10}  "
                         f"{verdict(ratio, LIMIT_TARGET)}")  # fmt: skip
        lines.append("   ratio: first to last accepted; steady: 1st to 99th percentile; tail s: "
                     "the last 1 %")  # fmt: skip
        lines.append(f"   duplicates {paced.duplicates} (must be 0), losses {paced.losses} "
                     f"(must be 0), wall {paced.wall_s:.1f} s; CPU s per wall s: worker "
                     f"{paced.worker_cpu:.2f}, bench and fakes {paced.bench_cpu:.2f}")  # fmt: skip
    if ceiling:
        base = ceiling[0].per_s or 1.0
        lines += ["", "2. ceiling: no limits, no faults (PostgreSQL for the workers)",
                  f"   {'sender':<13} {'msg/s':>7} {'slack':>7} {'teams':>7} {'whatsapp':>8} "
                  f"{'wall s':>7} {'ratio':>6} {'dup':>4} {'lost':>5}  verdict"]  # fmt: skip
        for run in ceiling:
            ratio = run.per_s / base
            judged = "—" if run is ceiling[0] else verdict(ratio, CEILING_TARGET)
            p = run.per_platform
            lines.append(
                f"   {run.name:<13} {run.per_s:>7.0f} {p['slack']:>7.0f} {p['teams']:>7.0f} "
                f"{p['whatsapp']:>8.0f} {run.wall_s:>7.1f} {ratio:>6.2f} {run.duplicates:>4} "
                f"{run.losses:>5}  {judged}"
            )
            if run is not ceiling[0]:
                bare = ceiling[0].per_platform
                each = [f"{p[c] / bare[c]:.2f}" if bare[c] else "—" for c in CHANNELS]
                lines.append(f"   {'':<13} {'÷ bare':>7} {each[0]:>7} {each[1]:>7} {each[2]:>8}")
    return "\n".join(lines)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--skip-paced", action="store_true", help="only the ceiling")
    parser.add_argument("--skip-ceiling", action="store_true", help="only the paced part")
    parser.add_argument("--only", choices=CHANNELS, help="only this platform's third")
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--bare", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare:
        return await bare_client(args.bare)
    global ONLY
    ONLY = args.only
    start_load = load_average()
    paced, ceiling = None, []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            if not args.skip_paced:
                chaos = {c: Chaos(per_second=PUBLISHED[c], too_many=0.001,
                                  broken=0.005, slow=0.01, seed=i)
                         for i, c in enumerate(CHANNELS)}  # fmt: skip
                paced = await with_workers("paced", args.people, 1, chaos, None, Path(tmp))
            if not args.skip_ceiling:
                ceiling.append(await bare(args.people, Path(tmp)))
                for n in (1, 2):
                    label = f"{n} worker" + ("s" if n > 1 else "")
                    ceiling.append(
                        await with_workers(label, args.people, n, {}, UNLIMITED, Path(tmp))
                    )
        except (OSError, asyncpg.PostgresError) as exc:
            print(f"PostgreSQL is not reachable: {exc}", file=sys.stderr)
            return 2
    load = (start_load, load_average())
    if args.json:
        doc = {
            "people": args.people,
            "load_average": load,
            "paced": asdict(paced) if paced else None,
            "ceiling": [asdict(r) for r in ceiling],
        }
        print(json.dumps(doc, indent=2))
    else:
        print(report(paced, ceiling, args.people, load))
    runs = ([paced] if paced else []) + ceiling
    return 1 if any(r.duplicates or r.losses for r in runs) else 0


if __name__ == "__main__":
    # The event loop of `achterban worker`, for the bench, its fakes and the bare client alike.
    with asyncio.Runner(loop_factory=fast_event_loop) as runner:
        sys.exit(runner.run(main()))
