"""ACHTERBAN_READ_DATABASE_URL: pages and commands that only read results read a replica; what
writes, and the pages a form's redirect lands on, use the primary (docs/deployment.md, "A read
replica for the dashboard").

The replica is a real second PostgreSQL database: a copy of the primary (CREATE DATABASE …
TEMPLATE) in which every transaction is read-only, as on a hot standby. The primary then
changes (a vote, a close); the replica keeps its state, as a lagging standby would.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import delete, func, select, update
from typer.testing import CliRunner

from bot.app import new_engine
from bot.cli.main import app as cli_app
from bot.config import Settings
from bot.usecases.polls import vote_payload
from storage.db import Database
from storage.migrate import upgrade_async
from storage.models import Person, Poll
from storage.polls import Polls
from storage.stats_cache_models import StatsCell
from tests.e2e.support import client_for, log_in
from tests.support.broadcasts import deliver
from tests.support.databases import PG_ADMIN, create_pg_database, drop_pg_database
from tests.support.org import Org
from tests.support.polls import create_poll

SECRET = "test-secret-key-that-is-long-enough-for-production"


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def primary() -> AsyncIterator[tuple[str, str]]:
    name, url = await create_pg_database()
    try:
        await upgrade_async(url)
        yield name, url
    finally:
        await drop_pg_database(name)


async def replica_of(name: str) -> tuple[str, str]:
    """A copy of database `name` in which nothing can be written (as on a hot standby)."""
    copy = f"{name}_replica"
    await admin(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"')
    await admin(f'ALTER DATABASE "{copy}" SET default_transaction_read_only = on')
    return copy, PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + (
        f"/{copy}"
    )


def settings_for(url: str, tmp: Path, read: str | None = None) -> Settings:
    return Settings(
        database_url=url,
        read_database_url=read,
        data_dir=tmp,
        secret_key=SECRET,
        _env_file=None,  # type: ignore[call-arg]
    )


async def participants(url: str, poll_id: int) -> tuple[int, str]:
    """(people who voted, status) of the poll as this database has it."""
    db = Database(url)
    try:
        async with db.transaction(read_only=True) as session:
            polls = Polls(session)
            poll = await polls.get(poll_id)
            assert poll is not None
            return (await polls.tally(poll)).participants, poll.status
    finally:
        await db.dispose()


async def cached(url: str) -> int:
    db = Database(url)
    try:
        async with db.transaction(read_only=True) as session:
            return int(await session.scalar(select(func.count()).select_from(StatsCell)) or 0)
    finally:
        await db.dispose()


def test_an_empty_setting_reads_the_primary(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://x@127.0.0.1/a"
    assert settings_for(url, tmp_path, read="").read_db_url is None
    assert settings_for(url, tmp_path, read=url).read_db_url is None
    assert settings_for(url, tmp_path, read=url + "b").read_db_url == url + "b"


async def test_result_pages_and_stats_read_the_replica_and_writes_land_on_the_primary(
    primary: tuple[str, str], tmp_path: Path
) -> None:
    """Long because it is one story: seed, copy, change the primary, then each kind of
    reader and writer against both."""
    name, url = primary
    db = Database(url)
    engine = new_engine(db, settings_for(url, tmp_path))
    org = await Org.create(engine)
    open_poll, options = await create_poll(engine, ["Ja", "Nee"], question="Open?")
    closed_poll, closed_options = await create_poll(engine, ["Ja", "Nee"], question="Dicht?")
    await deliver(engine)
    for key in ("emp0", "emp1", "emp2"):
        await org.say(key, choice=vote_payload(open_poll, options[0]))
        await org.say(key, choice=vote_payload(closed_poll, closed_options[1]))
    async with db.transaction() as session:
        poll = await session.get(Poll, closed_poll)
        assert poll is not None
        poll.status = "closed"
    await db.dispose()
    copy, replica = await replica_of(name)
    try:
        # The primary moves on; the replica has not replayed it yet.
        await org.say("emp3", choice=vote_payload(open_poll, options[1]))
        await db.dispose()
        assert await participants(url, open_poll) == (4, "open")
        assert await participants(replica, open_poll) == (3, "open")

        settings = settings_for(url, tmp_path, read=replica)
        async with client_for(settings) as client:
            csrf = await log_in(client, engine, org.people["olga"])  # a session on the primary
            export = await client.get(f"/admin/polls/{open_poll}/results.csv")
            assert export.status == 200
            total = [r for r in csv.reader(io.StringIO(await export.text())) if r[0] == "total"]
            assert {int(r[2]) for r in total} == {3}  # the replica's figures
            live = await client.get(f"/admin/polls/{open_poll}/live")
            assert live.status == 200
            listing = await client.get("/admin/polls")
            assert listing.status == 200 and "Open?" in await listing.text()
            # The detail page (where closing leads) reads the primary.
            detail = await client.get(f"/admin/polls/{open_poll}")
            assert detail.status == 200
            closing = await client.post(
                f"/admin/polls/{open_poll}/close", data={"csrf": csrf}, allow_redirects=False
            )
            assert closing.status == 303
            after = await client.get(closing.headers["Location"])
            assert after.status == 200
        assert await participants(url, open_poll) == (4, "closed")
        assert await participants(replica, open_poll) == (3, "open")

        env = {
            "ACHTERBAN_DATABASE_URL": url,
            "ACHTERBAN_READ_DATABASE_URL": replica,
            "ACHTERBAN_DATA_DIR": str(tmp_path),
        }
        result = await asyncio.to_thread(
            CliRunner().invoke, cli_app, ["stats", "--format", "json"], env=env
        )
        assert result.exit_code == 0, result.output
        items: dict[int, Any] = {i["id"]: i for i in json.loads(result.stdout)["items"]}
        assert items[open_poll]["responses"] == 3  # read on the replica
        assert items[closed_poll]["responses"] == 3
        # The closed poll's figures were cached on the primary, not (cannot be) on the replica.
        assert await cached(url) > 0
        assert await cached(replica) == 0
        # Figures counted on a replica whose people differ from the primary's now (a roster
        # change it has not replayed) are not stored: they would be stale there at once.
        async with db.transaction() as session:
            await session.execute(delete(StatsCell))
            moved = update(Person).where(Person.id == org.people["emp0"].id)
            await session.execute(moved.values(department="Elders"))
        await db.dispose()
        again = await asyncio.to_thread(
            CliRunner().invoke, cli_app, ["stats", "--format", "json"], env=env
        )
        assert again.exit_code == 0, again.output
        assert json.loads(again.stdout) == json.loads(result.stdout)
        assert await cached(url) == 0
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
