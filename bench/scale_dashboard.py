"""bench/scale.py's part `dashboard`: 1,000,000 ballots over 200 polls, then the p95 of the
dashboard pages (over HTTP, logged in as an admin) and of `achterban stats` (in this process,
and as a command with its start-up).

The history is written in bulk with SQL (each poll asked of every voter through an outbox row
with its prompt and the poll it asks about, as a real poll leaves it: storage/prompt_items.py;
and answered by everyone), not through the use cases: the figure is what reading it costs.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy import insert, text

from bench.fleet import fleet
from bench.votes import percentile
from storage.db import Database
from storage.models import Person, Poll, Role, utcnow
from storage.stats import report

POLLS = 200
OPEN = 6  # the last polls are seeded open and closed one by one: the first report after each
OPTIONS = ("Ja", "Nee", "Weet niet")
PAGES = ("/admin", "/admin/polls", "/admin/polls/{poll}", "/admin/people", "/admin/audit",
         "/admin/broadcasts", "/admin/questions")  # fmt: skip
ADMIN_EMAIL = "bench-admin@example.org"
OPTION_ROWS = (
    "INSERT INTO poll_options (poll_id, position, label, anonymous_count) "
    "SELECT p.id, o.n, 'Optie ' || o.n, 0 FROM polls p CROSS JOIN (VALUES (0), (1), (2)) AS o(n)"
)


async def seed(db: Database, ballots: int) -> int:
    """Voters and 200 polls each answered by every voter, the last OPEN of them still open;
    returns the last poll."""
    voters = max(1, ballots // POLLS)
    now = utcnow()
    async with db.transaction() as session:
        for k in range(0, voters, 5000):
            rows = [{"name": f"Voter {i}", "email": f"v{i}@example.org", "phone": f"+3162{i:07d}",
                     "department": f"Afdeling {i % 40}", "location": f"Plaats {i % 12}"}
                    for i in range(k, min(voters, k + 5000))]  # fmt: skip
            await session.execute(insert(Person), rows)
        admin = (await session.execute(
            insert(Person).values(name="Bench Admin", email=ADMIN_EMAIL).returning(Person.id)
        )).scalar_one()  # fmt: skip
        await session.execute(insert(Role).values(person_id=admin, role="admin"))
        polls = [{"question": f"Peiling {n}?", "audience": {}, "audience_size": voters,
                  "opens_at": now, "status": "open" if n >= POLLS - OPEN else "closed",
                  "closed_at": None if n >= POLLS - OPEN else now}
                 for n in range(POLLS)]  # fmt: skip
        await session.execute(insert(Poll), polls)
        await session.execute(text(OPTION_ROWS))
    voters_sql = "SELECT id, phone FROM people WHERE email LIKE 'v%@example.org'"
    async with db.transaction() as session:
        await session.execute(
            text(f"""
            INSERT INTO ballots (poll_id, person_id, option_id, channel, cast_at)
            SELECT o.poll_id, v.id, o.id, 'whatsapp', now()
            FROM ({voters_sql}) v JOIN poll_options o ON o.position = (v.id + o.poll_id) % 3""")
        )
        await session.execute(text(f"""
            INSERT INTO outbox (channel, account, person_id, purpose, prompt, status, attempts,
                                next_attempt_at, created_at, sent_at, about_kind, about_id)
            SELECT 'whatsapp', v.phone, v.id, 'poll',
                   json_build_object('choices', json_build_array(json_build_array(
                       'Ja', 'poll:' || p.id || ':vote:1')), 'multiple', false),
                   'sent', 1, now(), now(), now(), 'poll', p.id
            FROM ({voters_sql}) v CROSS JOIN polls p"""))  # fmt: skip
        last = (await session.execute(text("SELECT max(id) FROM polls"))).scalar_one()
    async with db.engine.connect() as conn:
        await conn.execute(text("COMMIT"))
    return int(last)


async def close_one(db: Database) -> None:
    """Closes the oldest open poll, as storage/polls.py does (the status is what stats reads)."""
    async with db.transaction() as session:
        await session.execute(text(
            "UPDATE polls SET status = 'closed', closed_at = now() WHERE id = "
            "(SELECT min(id) FROM polls WHERE status = 'open')"))  # fmt: skip


async def after_closing(db: Database, job: Callable[[], Any], times: int) -> list[float]:
    """Seconds of `job` run once right after each of `times` polls closes."""
    out = []
    for _ in range(times):
        await close_one(db)
        started = time.perf_counter()
        await job()
        out.append(time.perf_counter() - started)
    return out


async def p95(job: Callable[[], Any], runs: int) -> tuple[float, float]:
    """(p95, p50) in seconds of `runs` runs of `job`."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await job()
        times.append(time.perf_counter() - started)
    times.sort()
    return percentile(times, 95), percentile(times, 50)


def cookies(response: aiohttp.ClientResponse) -> dict[str, str]:
    return {k: m.value for k, m in response.cookies.items()}


async def login(http: aiohttp.ClientSession, base: str, link: str) -> dict[str, str]:
    """Open the printed link, then confirm it (its CSRF field) as a browser does; the admin
    cookie by hand, since the bench talks plain HTTP to a server that marks cookies Secure."""
    path = link[link.index("/admin/login/") :]
    async with http.get(base + path) as r:
        pre, page = cookies(r), await r.text()
    csrf = re.search(r'name="csrf"\s+value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"\s+name="csrf"', page
    )
    if csrf is None:
        raise RuntimeError("no CSRF field on the login page")
    header = "; ".join(f"{k}={v}" for k, v in pre.items())
    async with http.post(base + path, data={"csrf": csrf.group(1)}, allow_redirects=False,
                         headers={"Cookie": header}) as r:  # fmt: skip
        got = cookies(r)
    if "achterban_admin" not in got:
        raise RuntimeError(f"login refused ({r.status})")
    return got


async def run(
    url: str,
    env: dict[str, str],
    tmp: Path,
    cli: Any,
    ballots: int,
    runs: int,
    row: Callable[..., None],
    verdict: Callable[[bool], str],
) -> None:
    """Long because it is one scenario: seed, stats in-process and as a command, pages."""
    backend = "postgresql"
    db = Database(url)
    try:
        started = time.monotonic()
        last = await seed(db, ballots)
        row("dashboard", backend, f"seeded {ballots:,} ballots over {POLLS} polls",
            f"{time.monotonic() - started:.0f} s")  # fmt: skip
        tz = ZoneInfo("Europe/Amsterdam")

        async def stats() -> None:  # as `achterban stats` does it
            await report(db, tz, None)

        high, _ = await p95(stats, 1)
        row("dashboard", backend, "stats in-process, first report (nothing cached)",
            f"{high:.2f} s", verdict(high < 2))  # fmt: skip

        high = max(await after_closing(db, stats, OPEN // 2))
        row("dashboard", backend, f"stats in-process, after a poll closes (max of {OPEN // 2})",
            f"{high:.2f} s", verdict(high < 2))  # fmt: skip

        cpu = time.process_time()
        high, mid = await p95(stats, max(3, runs // 4))
        cpu = (time.process_time() - cpu) / max(3, runs // 4)
        row("dashboard", backend, f"stats in-process p95 (p50 {mid:.2f} s, CPU {cpu:.2f} s)",
            f"{high:.2f} s", verdict(high < 2))  # fmt: skip

        async def command() -> None:
            await cli(env, "stats", "--format", "json")

        high = max(await after_closing(db, command, OPEN - OPEN // 2))
        closings = OPEN - OPEN // 2
        row("dashboard", backend, f"`achterban stats` after a poll closes (max of {closings})",
            f"{high:.1f} s", verdict(high < 2))  # fmt: skip

        high, mid = await p95(command, 3)
        row("dashboard", backend, f"`achterban stats` incl. start-up p95 (p50 {mid:.1f} s)",
            f"{high:.1f} s", verdict(high < 2))  # fmt: skip
    finally:
        await db.dispose()
    link = (await cli(env, "admin", "login-link", ADMIN_EMAIL)).strip().splitlines()[-1]
    async with fleet(env, tmp, serve=1, deliver=False) as f, aiohttp.ClientSession() as http:
        admin = await login(http, f.urls[0], link)
        header = {"Cookie": "; ".join(f"{k}={v}" for k, v in admin.items())}
        for page in PAGES:
            path = page.format(poll=last)

            async def get(path: str = path) -> None:
                async with http.get(f.urls[0] + path, headers=header) as r:
                    await r.read()
                    if r.status != 200:
                        raise RuntimeError(f"{path}: {r.status}")

            high, mid = await p95(get, runs)
            row("dashboard", backend, f"GET {page} p95 (p50 {mid * 1000:.0f} ms)",
                f"{high * 1000:.0f} ms", verdict(high < 0.3))  # fmt: skip
        f.sample_rss()
    row("dashboard", backend, "peak RSS serve", f"{max(f.peak_rss_mb.values()):.0f} MB",
        verdict(max(f.peak_rss_mb.values()) < 300))  # fmt: skip
