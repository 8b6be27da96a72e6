"""Through a real PgBouncer in transaction mode (Debian's package; .ci/run installs it), with
`?pgbouncer=transaction` on the URL: the migrations run, two `achterban serve` processes take
a vote storm with the exact tally, their workers deliver (polling: no LISTEN there), and no
prepared statement is left behind on PgBouncer's server connections. And the control: without
the flag, through the same PgBouncer, asyncpg's named prepared statements break.

PgBouncer gets fewer server connections (POOL) than the clients it serves, so consecutive
transactions of one client run on different server connections.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.fleet import fleet, free_port
from bench.webhooks import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    cli,
    phone,
    roster_csv,
    server_env,
)
from storage.db import Database
from storage.migrate import upgrade_async
from storage.models import OutboxMessage
from storage.unit import raw
from tests.engine.test_delivery_scale import FAST
from tests.fakes.twilio_api import FakeTwilio
from tests.support.databases import PG_ADMIN, create_pg_database, drop_pg_database
from tests.support.storm import assert_exact_tally, poll_and_storm

PGBOUNCER = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")
POOL = 4  # server connections per database; each serve process alone opens more clients
VOTERS = 60
NAMED = re.compile(r'prepared statement "__asyncpg_stmt_\w+__" (does not exist|already exists)')


@dataclass
class Bouncer:
    port: int
    log: Path
    version: str

    def url(self, direct: str, *, flag: bool = True) -> str:
        """`direct` (a database on PostgreSQL) by way of this PgBouncer."""
        url = make_url(direct).set(host="127.0.0.1", port=self.port)
        return url.render_as_string(hide_password=False) + ("?pgbouncer=transaction" * flag)

    def connections(self, database: str) -> tuple[int, int]:
        """(client logins, server connections opened) for `database`, from PgBouncer's log."""
        log = self.log.read_text("utf-8", "replace")
        clients = log.count(f"login attempt: db={database} ")
        return clients, len(re.findall(rf"{database}/\S+ new connection to server", log))


@pytest.fixture(scope="module")
def pgbouncer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bouncer]:
    """A PgBouncer in the foreground on a free port, in front of the tests' PostgreSQL."""
    if PGBOUNCER is None:
        reason = "pgbouncer is not installed (apt-get install pgbouncer; .ci/run installs it)"
        print(reason, file=sys.stderr)
        pytest.skip(reason)
    version = subprocess.run([PGBOUNCER, "--version"], capture_output=True, text=True).stdout
    target = make_url(PG_ADMIN)
    login = f"user={target.username or 'postgres'}"
    if target.password:
        login += f" password={target.password}"
    tmp = tmp_path_factory.mktemp("pgbouncer")
    port = free_port()
    # auth_type=any: clients' names are not checked, PgBouncer logs in as `login`.
    # No unix socket (the package's /var/run/postgresql may not be writable).
    (tmp / "pgbouncer.ini").write_text(
        f"""[databases]
* = host={target.host or "127.0.0.1"} port={target.port or 5432} {login}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = {POOL}
max_db_connections = {POOL}
max_client_conn = 500
""",
        "utf-8",
    )
    args = [PGBOUNCER, str(tmp / "pgbouncer.ini")]
    if os.geteuid() == 0:  # "PgBouncer should not run as root": it switches to this user
        args[1:1] = ["-u", "nobody"]
    log = tmp / "pgbouncer.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"pgbouncer did not start: {log.read_text()[-800:]}")
                time.sleep(0.05)
        yield Bouncer(port, log, version.splitlines()[0])
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def rounds(db: Database) -> list[int]:
    """Several rounds of concurrent transactions on more connections than PgBouncer has server
    connections, both ways the application talks to PostgreSQL: SQLAlchemy sessions (each
    event's ORM part, the web pages) and the asyncpg connection (the worker's hot path)."""

    async def orm(i: int) -> int:
        async with db.transaction() as session:
            stmt = text("SELECT CAST(:i AS integer) + 1")
            return int((await session.execute(stmt, {"i": i})).scalar_one())

    async def driver(i: int) -> int:
        async with db.driver() as conn:
            return int(await conn.fetchval("SELECT $1::integer + 1", i))

    got = []
    for _ in range(4):
        got += await asyncio.gather(*(orm(i) for i in range(2 * POOL)))
        got += await asyncio.gather(*(driver(i) for i in range(2 * POOL)))
    return got


async def prepared_on_servers(url: str) -> list[str]:
    """The names of the prepared statements kept on PgBouncer's server connections, all of
    them: POOL transactions at once, so each runs on its own server connection."""
    db = Database(url, pool_size=POOL)
    both = asyncio.Barrier(POOL)

    async def one() -> tuple[int, list[str]]:
        async with db.transaction() as session:
            pid = int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())
            stmt = text("SELECT name FROM pg_prepared_statements")
            names = list((await session.execute(stmt)).scalars())
            await asyncio.wait_for(both.wait(), 10)  # hold this server connection
            return pid, names

    try:
        found = await asyncio.gather(*(one() for _ in range(POOL)))
    finally:
        await db.dispose()
    assert len({pid for pid, _ in found}) == POOL  # every server connection looked at
    return sorted(n for _, names in found for n in names)


async def test_without_the_flag_named_prepared_statements_break(pgbouncer: Bouncer) -> None:
    name, url = await create_pg_database()
    try:
        flagged = Database(pgbouncer.url(url))
        try:
            assert await rounds(flagged) == 8 * [*range(1, 2 * POOL + 1)]
        finally:
            await flagged.dispose()
        assert await prepared_on_servers(pgbouncer.url(url)) == []
        plain = Database(pgbouncer.url(url, flag=False))
        try:
            with pytest.raises(Exception) as failed:  # the message is checked below
                await rounds(plain)
        finally:
            await plain.dispose()
        chain, exc = [], failed.value
        while exc is not None:
            chain.append(str(exc))
            exc = exc.__cause__ or exc.__context__
        assert any(NAMED.search(m) for m in chain), chain
    finally:
        await drop_pg_database(name)


async def test_a_vote_storm_through_pgbouncer_counts_exactly(
    pgbouncer: Bouncer, tmp_path: Path
) -> None:
    name, url = await create_pg_database()
    twilio = await FakeTwilio(ACCOUNT_SID, AUTH_TOKEN).start()
    db = Database(url)  # checks directly on PostgreSQL
    try:
        env = server_env(tmp_path, pgbouncer.url(url), "http://127.0.0.1:9")
        env = {k: v for k, v in env.items() if not k.startswith("SLACK_")}  # WhatsApp only
        env |= {
            "ACHTERBAN_TWILIO_API_URL": twilio.url,
            "ACHTERBAN_RATE_LIMITS": json.dumps(FAST),
            "ACHTERBAN_WORKER_HEARTBEAT_SECONDS": "1",
        }
        await upgrade_async(env["ACHTERBAN_DATABASE_URL"])  # what `achterban db upgrade` runs
        (tmp_path / "roster.csv").write_text(roster_csv(VOTERS), "utf-8")
        # The import runs while the servers start up (their start-up is most of the CPU here).
        importing = asyncio.create_task(cli(env, "roster", "import", str(tmp_path / "roster.csv")))
        async with fleet(env, tmp_path, serve=2) as servers:
            await importing
            # The CLI's poll is written by its own process: the workers find it by polling.
            poll_id, counts = await poll_and_storm(env, db, servers.urls, VOTERS)
        await assert_exact_tally(env, poll_id, VOTERS)
        assert counts == {"sent": 3 * VOTERS}, counts  # one confirmation per vote, no more
        assert len(twilio.sent) == 3 * VOTERS
        per_phone = Counter(form["To"].removeprefix("whatsapp:") for form in twilio.sent)
        assert per_phone == {phone(i): 3 for i in range(VOTERS)}  # hello, poll, confirmation
        clients, servers_opened = pgbouncer.connections(name)
        assert servers_opened <= POOL < clients, (clients, servers_opened)
        assert await prepared_on_servers(pgbouncer.url(url)) == []
    finally:
        await db.dispose()
        await twilio.close()
        await drop_pg_database(name)


async def test_a_large_insert_copies_through_pgbouncer_and_leaves_no_statement(
    pgbouncer: Bouncer,
) -> None:
    """A fan-out's chunk of 100 rows or more is a COPY (storage/raw.py). Through PgBouncer it
    must work, leave no prepared statement on the server connections, and the transactions
    after it (on other server connections) must not trip over one."""
    name, url = await create_pg_database()
    try:
        await upgrade_async(url)
        db = Database(pgbouncer.url(url))
        try:
            rows = [
                {"channel": "console", "account": f"lid{i}@example.org", "person_id": None,
                 "payload": {"text": "Doe je mee?"}, "purpose": "notice", "prompt": None}
                for i in range(250)
            ]  # fmt: skip
            for _ in range(3):  # each on whichever server connection PgBouncer gives
                async with db.transaction() as session:
                    await (await raw(session)).insert(OutboxMessage.__table__, rows)  # type: ignore[arg-type]
                assert await rounds(db) == 8 * [*range(1, 2 * POOL + 1)]
            async with db.transaction(read_only=True) as session:
                stmt = text("SELECT count(*), count(DISTINCT account), min(status) FROM outbox")
                assert tuple((await session.execute(stmt)).one()) == (750, 250, "pending")
        finally:
            await db.dispose()
        assert await prepared_on_servers(pgbouncer.url(url)) == []
    finally:
        await drop_pg_database(name)
