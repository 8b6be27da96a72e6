"""Signed WhatsApp and Slack votes against `achterban serve`, against the HTTP stack's own limit.

The real server runs as subprocess(es) on SQLite and PostgreSQL; roster, Slack links (`slack
sync` against a fake Web API in this process) and polls come from the CLI. This process then
plays Twilio and Slack: votes signed by twilio's RequestValidator and slack_sdk's
SignatureVerifier, C at a time, 10 % of them delivered twice as platform retries. GET /healthz
at the same concurrency is what the HTTP stack can do at all; the CPU time of the servers, the
database backends and this process says what a vote costs whatever else the machine runs. An
open-loop phase offers 200 requests/s (--rate) and measures p99 acknowledgement latency.
The tallies and the recognised retries decide the exit status; the timing never does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp
import asyncpg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.fakes and bench.votes

from adapters.slack_render import render  # noqa: E402
from bench.votes import percentile, run_concurrently  # noqa: E402
from bot.messages import Choice, Outgoing  # noqa: E402
from dialogs.poll import vote_payload  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.models import PollOption  # noqa: E402
from tests.fakes import slack_api as slack_fake  # noqa: E402
from tests.fakes.twilio_api import inbound_form, signature_headers  # noqa: E402

TARGET_VOTES_PER_S = 500.0  # on PostgreSQL; SQLite serialises writers (informative only)
TARGET_P99_MS, TARGET_RATE = 100.0, 200.0  # p99 acknowledgement at 200 requests/s offered
RETRY_SHARE = 0.1
OPTIONS = ["Ja", "Nee", "Weet niet"]
FORM = "application/x-www-form-urlencoded"
PUBLIC_URL = "https://achterban.example.org"  # what Twilio signs; the server checks against it
ACCOUNT_SID, AUTH_TOKEN, SENDER = "AC" + "be" * 16, "bench-auth-token", "whatsapp:+14155238886"
ACHTERBAN = str(Path(sys.executable).with_name("achterban"))
METRIC = re.compile(r'^(achterban_\w+)\{channel="(?:whatsapp|slack)"\} (\S+)$', re.M)
DbPids = Callable[[], Awaitable[list[int]]]


class BenchError(Exception):
    """The bench could not run (a server or a CLI command failed): no figures."""


@dataclass(frozen=True)
class Delivery:
    """One POST as the platform sends it. WhatsApp's is signed once (Twilio's signature has no
    timestamp: a retry is identical); Slack's is signed when sent (its timestamp)."""

    channel: str  # "whatsapp" or "slack"
    body: bytes
    headers: dict[str, str]
    retry: bool = False


@dataclass
class Fleet:
    urls: list[str]
    pids: list[int]


@dataclass
class Result:
    backend: str
    processes: int
    voters: int
    concurrency: int
    requests: int  # votes + retries, closed loop
    votes_per_s: float  # distinct votes ÷ wall time
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    healthz_per_s: float
    ratio: float  # requests/s ÷ healthz/s
    engine_ms: float  # mean engine.handle in the servers (their /metrics), queueing included
    cpu_ms: list[float]  # CPU per request: servers, database backends, this process
    offered_rate: float
    achieved_rate: float
    open_p50_ms: float
    open_p99_ms: float
    verdict_rate: str | None  # PASS / BELOW TARGET on PostgreSQL
    verdict_p99: str | None  # PASS / BELOW TARGET when TARGET_RATE was offered
    tallies: list[int]  # per poll: closed loop, open loop
    retries: int  # deliveries repeated on purpose
    duplicates: int  # recognised by the servers
    refused: int  # answers other than 200 (503: load shed), delivered again later
    slack_api_calls: int  # Web API calls while voting (users.info); 0 expected
    load: list[float]  # 1-minute load average before and after the closed loop
    ok: bool


# --- the server and the CLI, as subprocesses ---------------------------------------------------


def server_env(data_dir: Path, database_url: str, slack_api_url: str) -> dict[str, str]:
    """This environment without any achterban or platform settings, plus the bench's."""
    prefixes = ("ACHTERBAN_", "SLACK_", "TWILIO_", "Microsoft")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    return env | {
        "ACHTERBAN_DATA_DIR": str(data_dir), "ACHTERBAN_DATABASE_URL": database_url,
        "ACHTERBAN_SECRET_KEY": secrets.token_urlsafe(48), "ACHTERBAN_PUBLIC_URL": PUBLIC_URL,
        "ACHTERBAN_SLACK_API_URL": slack_api_url,
        "ACHTERBAN_TWILIO_API_URL": "http://127.0.0.1:9",  # --no-worker: nothing is sent
        "SLACK_BOT_TOKEN": slack_fake.TOKEN, "SLACK_SIGNING_SECRET": slack_fake.SIGNING_SECRET,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_WHATSAPP_FROM": SENDER,
    }  # fmt: skip


async def cli(env: dict[str, str], *args: str) -> str:
    """`achterban ARGS`; its stdout. Async, so the fake Slack in this process keeps serving."""
    proc = await asyncio.create_subprocess_exec(
        ACHTERBAN, *args, env=env, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise BenchError(f"achterban {' '.join(args[:2])}: {err.decode()[-600:]}")
    return out.decode()


@asynccontextmanager
async def servers(n: int, env: dict[str, str], logs: Path) -> AsyncIterator[Fleet]:
    """N `achterban serve --no-worker` processes, one port each, the client spreading the
    load round-robin (what the kernel does for `serve --reuse-port`, but each process's share
    is known). SIGINT stops them as Ctrl-C does."""
    procs: list[asyncio.subprocess.Process] = []
    urls = []
    try:
        for k in range(n):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            args = ["serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port)]
            with (logs / f"serve-{k}.log").open("wb") as log:
                proc = await asyncio.create_subprocess_exec(
                    ACHTERBAN, *args, env=env, cwd=ROOT, stdout=log, stderr=log
                )
            procs.append(proc)
            urls.append(f"http://127.0.0.1:{port}")
        for k, url in enumerate(urls):
            if not await ready(url, procs[k]):
                text = await asyncio.to_thread((logs / f"serve-{k}.log").read_text)
                raise BenchError(f"achterban serve did not start: {text[-800:]}")
        yield Fleet(urls, [p.pid for p in procs])
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def ready(url: str, proc: asyncio.subprocess.Process) -> bool:
    async with aiohttp.ClientSession() as http:
        for _ in range(600):  # a minute
            if proc.returncode is not None:
                return False
            try:
                async with http.get(url + "/healthz") as r:
                    if r.status == 200:
                        return True
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    return False


# --- what Twilio and Slack send ----------------------------------------------------------------
# Even voters are on WhatsApp, odd ones on Slack. Everyone has an e-mail and an E.164 phone.


def roster_csv(voters: int) -> str:
    rows = [f"Voter {i},voter{i}@example.org,{phone(i)},Bench,Utrecht,nl," for i in range(voters)]
    return "\n".join(["name,email,phone,department,location,language,roles", *rows, ""])


def phone(i: int) -> str:
    return f"+316{10_000_000 + i}"


def slack_user(i: int) -> str:
    return f"UV{i:07d}"


def whatsapp(i: int, text: str) -> Delivery:
    """A typed message: WhatsApp shows numbered choices, so "2" votes for the second."""
    form = inbound_form(text, phone=phone(i), account_sid=ACCOUNT_SID, to=SENDER)
    headers = signature_headers(AUTH_TOKEN, PUBLIC_URL + "/twilio/whatsapp", form)
    return Delivery("whatsapp", urlencode(form).encode(), headers | {"Content-Type": FORM})


def slack_press(i: int, button: dict[str, object]) -> Delivery:
    """block_actions for a button as our adapter renders it, on a DM from the bot."""
    ref = f"D{slack_user(i)[1:]}:1700000000.{i:06d}"
    return Delivery("slack", slack_fake.actions_body(slack_user(i), ref, dict(button)).encode(), {})


def plan(
    voters: int, poll_id: int, option_ids: list[int], shift: int, rng: random.Random, spread: int
) -> list[Delivery]:
    """One vote per voter (option (i + shift) % 3) in random order; RETRY_SHARE of them again,
    up to `spread` places later — possibly while the first delivery is still in flight."""
    choices = tuple(
        Choice(o, vote_payload(poll_id, i)) for o, i in zip(OPTIONS, option_ids, strict=True)
    )
    buttons = slack_fake.block_elements(render(Outgoing(text="poll", choices=choices)))
    votes = [
        whatsapp(i, str(k + 1)) if i % 2 == 0 else slack_press(i, buttons[k])
        for i, k in ((i, (i + shift) % len(OPTIONS)) for i in range(voters))
    ]
    rng.shuffle(votes)
    keyed = [(float(n), d) for n, d in enumerate(votes)]
    for n in rng.sample(range(voters), round(voters * RETRY_SHARE)):
        keyed.append((n + rng.uniform(1, spread), replace(votes[n], retry=True)))
    return [d for _, d in sorted(keyed, key=lambda pair: pair[0])]


def expected_counts(voters: int, shift: int) -> list[int]:
    return [
        sum((i + shift) % len(OPTIONS) == k for i in range(voters)) for k in range(len(OPTIONS))
    ]


# --- load --------------------------------------------------------------------------------------


class Client:
    """Plays the platforms, round-robin over the servers. A delivery not answered 200 (a 503
    when the server sheds load) is kept, to be delivered again as the platform would."""

    def __init__(self, http: aiohttp.ClientSession, urls: list[str]) -> None:
        self.http, self.urls = http, urls
        self.acked, self.refused, self.failed = 0, 0, list[Delivery]()

    async def post(self, n: int, d: Delivery, since: float | None = None) -> float:
        path, headers = "/twilio/whatsapp", d.headers
        if d.channel == "slack":
            path = "/slack/events"
            headers = slack_fake.signed_headers(
                d.body.decode(), FORM, retry_num=1 if d.retry else None
            )
        started = time.perf_counter() if since is None else since
        url = self.urls[n % len(self.urls)] + path
        async with self.http.post(url, data=d.body, headers=headers) as r:
            await r.read()
        self.acked += r.status == 200
        if r.status != 200:
            self.refused += 1
            self.failed.append(replace(d, retry=True))
        return time.perf_counter() - started

    async def healthz(self, n: int) -> None:
        async with self.http.get(self.urls[n % len(self.urls)] + "/healthz") as r:
            await r.read()
        if r.status != 200:
            raise BenchError(f"GET /healthz answered {r.status}")

    async def redeliver(self, concurrency: int) -> None:
        for _ in range(5):
            failed, self.failed = self.failed, []
            if not failed:
                return
            await asyncio.sleep(1.0)
            await closed_loop(self, failed, concurrency, lambda: None)

    async def metrics(self) -> dict[str, float]:
        """The servers' counters for the webhook channels, summed."""
        total: dict[str, float] = {}
        for url in self.urls:
            async with self.http.get(url + "/metrics") as r:
                for name, value in METRIC.findall(await r.text()):
                    total[name] = total.get(name, 0.0) + float(value)
        return total


async def closed_loop(
    client: Client, deliveries: list[Delivery], concurrency: int, advance: Callable[[], None]
) -> tuple[float, list[float]]:
    """(wall seconds, sorted latencies) with `concurrency` requests in flight."""
    latencies: list[float] = []

    async def one(n: int) -> None:
        latencies.append(await client.post(n, deliveries[n]))

    seconds = await run_concurrently(len(deliveries), concurrency, one, advance)
    return seconds, sorted(latencies)


async def open_loop(
    client: Client, deliveries: list[Delivery], rate: float, advance: Callable[[], None]
) -> tuple[float, list[float]]:
    """Request n leaves at start + n/rate whatever the answers do, and its latency counts from
    then: a server (or client) falling behind shows in the figure, it does not slow the
    offered load (no coordinated omission)."""
    latencies: list[float] = []
    start = time.perf_counter() + 0.05

    async def one(n: int) -> None:
        due = start + n / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        latencies.append(await client.post(n, deliveries[n], since=due))
        advance()

    await asyncio.gather(*(one(n) for n in range(len(deliveries))))
    return time.perf_counter() - start, sorted(latencies)


def cpu_seconds(pids: Iterable[int]) -> dict[int, float]:
    """User + system CPU time per live process (/proc/PID/stat fields 14 and 15)."""
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


async def cpu_used(
    servers: list[int], db_pids: DbPids, work: Awaitable[tuple[float, list[float]]]
) -> tuple[tuple[float, list[float]], list[float]]:
    """Run `work`; also the CPU seconds it took the servers, the database backends (one that
    connected meanwhile counts whole) and this process."""
    before = [cpu_seconds(servers), cpu_seconds(await db_pids()), {0: time.process_time()}]
    result = await work
    after = [cpu_seconds(servers), cpu_seconds(set(before[1]) | set(await db_pids()))]
    after.append({0: time.process_time()})
    used = [
        sum(t - b.get(p, 0.0) for p, t in a.items()) for a, b in zip(after, before, strict=True)
    ]
    return result, used


@asynccontextmanager
async def profiling(command: str | None, pid: int) -> AsyncIterator[None]:
    """Run `command` (with {pid}: the first server's) while the block runs, e.g. a sampling
    profiler; it is stopped with SIGINT afterwards, as py-spy expects."""
    if not command:
        yield
        return
    proc = await asyncio.create_subprocess_shell(command.format(pid=pid), start_new_session=True)
    try:
        yield
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGINT)  # the shell and what it started
        await proc.wait()


# --- one backend -------------------------------------------------------------------------------


async def create_poll(env: dict[str, str], db: Database) -> tuple[int, list[int]]:
    """A poll through the CLI: it opens now and is queued to everyone, with its choices."""
    args = ["poll", "create", "--question", "Bench: akkoord?", "--format", "json"]
    poll_id = int(json.loads(await cli(env, *args, *(f"--option={o}" for o in OPTIONS)))["id"])
    async with db.transaction(read_only=True) as session:
        stmt = select(PollOption.id).where(PollOption.poll_id == poll_id)
        return poll_id, list((await session.execute(stmt.order_by(PollOption.position))).scalars())


async def prepare(env: dict[str, str], tmp: Path, voters: int) -> None:
    """Schema, roster, and the Slack users linked by e-mail (so votes need no users.info)."""
    await cli(env, "db", "upgrade")
    await asyncio.to_thread((tmp / "roster.csv").write_text, roster_csv(voters), "utf-8")
    await cli(env, "roster", "import", str(tmp / "roster.csv"))
    linked = json.loads(await cli(env, "slack", "sync", "--format", "json"))["linked"]
    if linked != voters // 2:
        raise BenchError(f"slack sync linked {linked} of {voters // 2} Slack users")


async def measure(
    backend: str, url: str, db_pids: DbPids, tmp: Path, args: argparse.Namespace, bar: Bar
) -> Result:
    voters, conc, rng = args.voters, args.concurrency, random.Random(args.seed)
    slack, db = await slack_fake.FakeSlackApi().start(), Database(url)
    try:
        for i in range(1, voters, 2):
            slack.add_user(slack_user(i), f"voter{i}@example.org", f"Voter {i}")
        env = server_env(tmp, url, slack.api_url)
        await prepare(env, tmp, voters)
        async with (
            servers(args.processes, env, tmp) as fleet,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http,
        ):
            client = Client(http, fleet.urls)
            # Warm-up: the WhatsApp voters say hello (links their number, fills the pools);
            # each server sees a Slack button that is not ours (bolt's path, no database).
            greet = [whatsapp(i, "hallo") for i in range(0, voters, 2)]
            greet += [slack_press(1, {"type": "button", "action_id": "x", "value": "x"})] * conc
            await closed_loop(client, greet, conc, bar("warm-up", len(greet)))
            if client.refused:
                raise BenchError(f"{client.refused} warm-up requests not answered 200")
            client.acked = 0

            poll1, options1 = await create_poll(env, db)
            votes = plan(voters, poll1, options1, 0, rng, 2 * conc)
            count = max(5000, 5 * len(votes))  # /healthz is quick: a second or so
            health = await run_concurrently(count, conc, client.healthz, bar("/healthz", count))
            load, before, calls = [os.getloadavg()[0]], await client.metrics(), len(slack.calls)
            work = closed_loop(client, votes, conc, bar(f"votes, {conc} in flight", len(votes)))
            async with profiling(args.profile, fleet.pids[0]):
                (seconds, latencies), cpu = await cpu_used(fleet.pids, db_pids, work)
            after, calls = await client.metrics(), len(slack.calls) - calls
            load.append(os.getloadavg()[0])
            await client.redeliver(conc)

            poll2, options2 = await create_poll(env, db)
            offered = plan(voters, poll2, options2, 1, rng, max(1, round(args.rate / 10)))
            advance = bar(f"votes at {args.rate:.0f}/s", len(offered))
            open_seconds, open_latencies = await open_loop(client, offered, args.rate, advance)
            await client.redeliver(conc)
            final = await client.metrics()

        tallies, ok = [], True
        for poll_id, shift in ((poll1, 0), (poll2, 1)):
            res = json.loads(await cli(env, "poll", "results", str(poll_id), "--format", "json"))
            counts = [o["count"] for o in res["options"]]
            tallies.append(sum(counts))
            ok &= counts == expected_counts(voters, shift) and res["participants"] == voters
    finally:
        await db.dispose()
        await slack.stop()

    def delta(name: str, a: dict[str, float], b: dict[str, float]) -> float:
        return b.get(name, 0.0) - a.get(name, 0.0)

    # Every 200 beyond one per vote must have been recognised as a retry.
    dups = round(delta("achterban_inbound_duplicates_total", before, final))
    handled = max(1.0, delta("achterban_handle_seconds_count", before, after))
    n, p99_open = len(votes), percentile(open_latencies, 99) * 1000
    return Result(
        backend=backend, processes=args.processes, voters=voters, concurrency=conc, requests=n,
        votes_per_s=voters / seconds, requests_per_s=n / seconds,
        p50_ms=percentile(latencies, 50) * 1000, p99_ms=percentile(latencies, 99) * 1000,
        healthz_per_s=count / health, ratio=(n / seconds) / (count / health),
        engine_ms=delta("achterban_handle_seconds_sum", before, after) / handled * 1000,
        cpu_ms=[c / n * 1000 for c in cpu], offered_rate=args.rate,
        achieved_rate=len(offered) / open_seconds,
        open_p50_ms=percentile(open_latencies, 50) * 1000, open_p99_ms=p99_open,
        verdict_rate=verdict(voters / seconds >= TARGET_VOTES_PER_S, backend == "postgresql"),
        verdict_p99=verdict(p99_open < TARGET_P99_MS, args.rate == TARGET_RATE),
        tallies=tallies, retries=sum(d.retry for d in votes + offered), duplicates=dups,
        refused=client.refused, slack_api_calls=calls, load=load,
        ok=ok and dups == client.acked - 2 * voters,
    )  # fmt: skip


def verdict(met: bool, applies: bool) -> str | None:
    return None if not applies else "PASS" if met else "BELOW TARGET"


async def admin_sql(args: argparse.Namespace, sql: str, *params: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(args.pg_admin, timeout=10)
    try:
        return list(await conn.fetch(sql, *params))
    finally:
        await conn.close()


async def run_postgresql(args: argparse.Namespace, tmp: Path, bar: Bar) -> Result:
    """A throw-away database on the server, dropped whatever happens."""
    name = f"achterban_bench_{uuid.uuid4().hex[:12]}"
    await admin_sql(args, f'CREATE DATABASE "{name}"')
    admin = urlsplit(args.pg_admin)  # its query may name a Unix socket: ?host=/var/run/…
    url = urlunsplit(admin._replace(scheme="postgresql+asyncpg", path=f"/{name}"))

    async def backends() -> list[int]:
        sql = "SELECT pid FROM pg_stat_activity WHERE datname = $1"
        return [int(row["pid"]) for row in await admin_sql(args, sql, name)]

    try:
        return await measure("postgresql", url, backends, tmp, args, bar)
    finally:
        await admin_sql(args, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def run_sqlite(args: argparse.Namespace, tmp: Path, bar: Bar) -> Result:
    async def inside() -> list[int]:
        return []  # SQLite runs in the server processes

    return await measure("sqlite", f"sqlite+aiosqlite:///{tmp}/bench.db", inside, tmp, args, bar)


# --- output ------------------------------------------------------------------------------------

Bar = Callable[[str, int], Callable[[], None]]  # a progress bar's name and total → advance
COLOUR = {"PASS": "[green]PASS[/]", "BELOW TARGET": "[red]BELOW TARGET[/]", None: "—"}
ROWS: list[tuple[str, Callable[[Result], str]]] = [
    ("votes/s, closed loop", lambda r: f"{r.votes_per_s:.0f}"),
    (f"  ≥ {TARGET_VOTES_PER_S:.0f} on PostgreSQL", lambda r: COLOUR[r.verdict_rate]),
    ("  requests/s (with retries)", lambda r: f"{r.requests_per_s:.0f}"),
    ("  ack p50 / p99 ms", lambda r: f"{r.p50_ms:.0f} / {r.p99_ms:.0f}"),
    ("GET /healthz/s, same concurrency", lambda r: f"{r.healthz_per_s:.0f}"),
    ("ratio requests/s ÷ healthz/s", lambda r: f"{r.ratio:.3f}"),
    ("engine.handle mean ms", lambda r: f"{r.engine_ms:.0f}"),
    ("CPU ms/request server/db/client", lambda r: " / ".join(f"{c:.1f}" for c in r.cpu_ms)),
    ("open loop: offered → achieved/s", lambda r: f"{r.offered_rate:.0f} → {r.achieved_rate:.0f}"),
    ("  ack p50 / p99 ms", lambda r: f"{r.open_p50_ms:.0f} / {r.open_p99_ms:.0f}"),
    (f"  p99 < {TARGET_P99_MS:.0f} ms at {TARGET_RATE:.0f}/s", lambda r: COLOUR[r.verdict_p99]),
    ("tally poll 1 / poll 2", lambda r: f"{r.tallies[0]} / {r.tallies[1]} of {r.voters}"),
    ("retries recognised / sent", lambda r: f"{r.duplicates} / {r.retries}"),
    ("not 200 (delivered again)", lambda r: str(r.refused)),
    ("Slack API calls while voting", lambda r: str(r.slack_api_calls)),
    ("load average before / after", lambda r: " / ".join(f"{x:.1f}" for x in r.load)),
    ("correct", lambda r: "[green]yes[/]" if r.ok else "[red]NO[/]"),
]  # fmt: skip


def table(results: list[Result], machine: dict[str, object]) -> Table:
    """One column per run, one row per figure."""
    out = Table(
        title=f"Signed webhook votes through `achterban serve` ({machine['nproc']} CPUs, "
        f"Python {machine['python']}, load average {machine['load']})",
        caption=f"{RETRY_SHARE:.0%} of deliveries repeated as platform retries",
    )
    out.add_column("")
    for r in results:
        out.add_column(f"{r.backend} ×{r.processes}, C={r.concurrency}", justify="right")
    for name, cell in ROWS:
        out.add_row(name, *(cell(r) for r in results))
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add = parser.add_argument
    add("--voters", type=int, default=1000, help="distinct voters (default 1000)")
    add("--concurrency", type=int, default=50, help="in flight (default 50)")
    add("--backends", default="sqlite,postgresql", help="comma-separated")
    add("--processes", type=int, default=1, help="serve processes, one port each (default 1)")
    add("--rate", type=float, default=TARGET_RATE, help="open-loop requests/s (default 200)")
    add("--seed", type=int, default=1, help="order of the votes and retries")
    add("--json", action="store_true", help="print one JSON document")
    add("--profile", help="shell command run during the closed loop; {pid}: the first server")
    add(
        "--pg-admin",
        default=os.environ.get("ACHTERBAN_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="PostgreSQL URL allowed to CREATE/DROP DATABASE",
    )  # fmt: skip
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if set(args.backends) - {"sqlite", "postgresql"}:
        parser.error("backends are sqlite and/or postgresql")
    if min(args.concurrency, args.processes) < 1 or args.voters < 20 or args.rate <= 0:
        parser.error("concurrency and processes >= 1, voters >= 20, rate > 0")
    return args


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=args.json)
    if not console.is_terminal:
        console.width = max(console.width, 100)  # a log file: keep the table on one line a row
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    machine = {"nproc": len(os.sched_getaffinity(0)), "python": sys.version.split()[0]}
    machine["load"] = load
    runners = {"sqlite": run_sqlite, "postgresql": run_postgresql}
    results: list[Result] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as progress:
        for backend in args.backends:

            def bar(name: str, total: int, backend: str = backend) -> Callable[[], None]:
                task = progress.add_task(f"{backend}: {name}", total=total)
                return lambda: progress.advance(task)

            try:
                with tempfile.TemporaryDirectory(prefix="achterban-bench-") as tmp:
                    results.append(await runners[backend](args, Path(tmp), bar))
            except (BenchError, aiohttp.ClientError) as exc:
                console.print(f"{backend}: {exc}", style="red", markup=False)
                return 2
            except (OSError, asyncpg.PostgresError) as exc:
                console.print(f"[red]{backend}: the database is not reachable ({exc})[/]")
                return 2
    machine["load_end"] = "/".join(f"{x:.1f}" for x in os.getloadavg())
    if args.json:
        print(json.dumps({"machine": machine, "results": [asdict(r) for r in results]}, indent=2))
    else:
        console.print(table(results, machine))
    wrong = [r.backend for r in results if not r.ok]
    if wrong:
        console.print(
            f"[red]{', '.join(wrong)}: a tally differs from the voters, or not every repeated "
            "delivery was recognised as a retry[/]"
        )
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
