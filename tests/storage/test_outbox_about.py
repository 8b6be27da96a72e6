"""outbox.about_kind / about_id name the poll, question or campaign a prompt asks about: filled
on every insert path from the prompt, and backfilled by migration 0015 for older rows."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bot.messages import Outgoing
from storage.db import Database
from storage.migrate import upgrade_async
from storage.models import OutboxMessage, Person, utcnow
from storage.outbox import Outbox, outbox_row
from storage.prompt_items import item_of
from storage.unit import raw
from tests.support.databases import create_pg_database, drop_pg_database

NOW_SQL = "CURRENT_TIMESTAMP"  # both backends


def prompt(*payloads: str) -> dict[str, object]:
    return {"choices": [[f"Keuze {i}", p] for i, p in enumerate(payloads)], "multiple": False}


def test_item_of_reads_the_first_button_that_names_an_item() -> None:
    assert item_of(prompt("poll:12:vote:3", "poll:12:vote:4")) == ("poll", 12)
    assert item_of(prompt("menu:home", "oq:7:answer")) == ("question", 7)
    assert item_of(prompt("nom:3:start")) == ("campaign", 3)
    assert item_of(prompt("bc:4:useful", "poll:x:1", "poll:١٢:1")) is None
    assert item_of(None) is None and item_of({}) is None


async def test_every_insert_path_fills_the_columns(db: Database) -> None:
    async with db.transaction() as session:
        person = Person(name="Piet", email="piet@example.org")
        session.add(person)
        await session.flush()
        box, now = Outbox(session), utcnow()
        await box.add("console", "piet", person.id, Outgoing("a"), now=now, prompt=prompt("poll:5"))
        row = outbox_row("console", "piet", person.id, Outgoing("b"), now=now)
        await box.add_many([row | {"prompt": prompt("oq:6:x")}, row | {"prompt": None}])
    async with db.event() as unit:
        raw_row = outbox_row("console", "piet", person.id, Outgoing("c"), now=now)
        rows = [raw_row | {"prompt": prompt("nom:7:go"), "recipient_ref": None}]
        await (await raw(unit)).insert(OutboxMessage.__table__, rows)  # type: ignore[arg-type]
    async with db.transaction(read_only=True) as session:
        o = OutboxMessage
        got = list(await session.execute(select(o.about_kind, o.about_id).order_by(o.id)))
    assert [tuple(r) for r in got] == [("poll", 5), ("question", 6), (None, None), ("campaign", 7)]


@pytest.fixture(params=["sqlite", "postgresql"])
async def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of its own: migrated step by step by the test."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'backfill.db'}"
        return
    name, url = await create_pg_database()
    try:
        yield url
    finally:
        await drop_pg_database(name)


async def test_migration_0015_backfills_existing_rows(fresh_url: str) -> None:
    await upgrade_async(fresh_url, "0014")
    db = Database(fresh_url)
    try:
        async with db.engine.begin() as conn:
            for p in (prompt("poll:41:vote:1"), prompt("menu:x"), None, prompt("oq:9:a")):
                await conn.execute(
                    text(
                        "INSERT INTO outbox (channel, account, purpose, prompt, status, attempts,"
                        f" next_attempt_at, created_at) VALUES ('console', 'a', 'poll', :p,"
                        f" 'sent', 1, {NOW_SQL}, {NOW_SQL})"
                    ),
                    {"p": None if p is None else json.dumps(p)},
                )
        await db.dispose()
        await upgrade_async(fresh_url)
        db = Database(fresh_url)
        async with db.engine.connect() as conn:
            rows = await conn.execute(text("SELECT about_kind, about_id FROM outbox ORDER BY id"))
            got = [tuple(r) for r in rows]
    finally:
        await db.dispose()
    assert got == [("poll", 41), (None, None), (None, None), ("question", 9)]
