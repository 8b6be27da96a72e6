"""Statements on the driver connection (storage/raw.py) and an event's Unit (storage/unit.py):
one transaction with the ORM, the ORM's changes seen and kept, outages reported."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import func, select

from bot.engine import Engine
from bot.errors import StoreUnavailable
from storage.conversations import lock_conversation
from storage.db import Database
from storage.inbound import find_sender, record_event
from storage.models import Conversation, InboundEvent, OutboxMessage, Person
from storage.raw import Query
from storage.unit import raw
from tests.support.databases import PG_ADMIN
from tests.support.org import Org

COUNT_PEOPLE = Query("SELECT count(*) FROM people")


class Boom(Exception):
    pass


async def events(db: Database) -> int:
    async with db.transaction(read_only=True) as session:
        return int((await session.execute(select(func.count(InboundEvent.id)))).scalar_one())


async def test_a_rollback_undoes_raw_statements_in_an_event_and_in_a_session(
    db: Database,
) -> None:
    with pytest.raises(Boom):
        async with db.event() as unit:
            assert await record_event(unit, "console", "e1")
            raise Boom
    with pytest.raises(Boom):
        async with db.transaction() as session:
            assert await record_event(session, "console", "e2")
            raise Boom
    assert await events(db) == 0
    async with db.event() as unit:
        assert await record_event(unit, "console", "e3")
        assert not await record_event(unit, "console", "e3")
    assert await events(db) == 1


async def test_raw_statements_see_pending_orm_changes(db: Database) -> None:
    async with db.event() as unit:
        unit.session.add(Person(name="Nieuw", email="nieuw@example.org"))
        row = await (await raw(unit)).fetchrow(COUNT_PEOPLE)
        assert row is not None and row[0] == 1


async def test_changes_to_rows_read_before_any_session_are_kept(engine: Engine, org: Org) -> None:
    person_id = org.people["emp0"].id
    await org.say("emp0", "hallo")  # links the console account
    async with engine.db.event() as unit:
        conversation = await lock_conversation(unit, person_id)
        conversation.dialog, conversation.state = "menu", {"step": 2}
        # No session was made; the change is written before commit all the same.
    async with engine.db.event() as unit:
        found = await find_sender(unit, "console", "emp0@example.org")
        assert found is not None
        _account, person, _roles = found
        person.language = "en"
        conversation = await lock_conversation(unit, person_id)
        assert (conversation.dialog, conversation.state) == ("menu", {"step": 2})
        # A session made now holds the rows read before it, changes included.
        assert await unit.session.get(Person, person_id) is person
        assert await unit.session.get(Conversation, person_id) is conversation
    async with engine.db.transaction(read_only=True) as session:
        stored = await session.get(Person, person_id)
        assert stored is not None and stored.language == "en"


async def test_raw_inserts_fill_the_models_defaults(engine: Engine, org: Org) -> None:
    await org.say("emp0", "hallo")
    async with engine.db.transaction(read_only=True) as session:
        row = (await session.execute(select(OutboxMessage))).scalars().first()
    assert row is not None
    assert (row.status, row.attempts, row.purpose) == ("pending", 0, "reply")
    assert row.next_attempt_at is not None and row.created_at is not None
    assert row.next_attempt_at.tzinfo is not None


async def test_a_connection_lost_mid_event_is_store_unavailable(
    engine: Engine, org: Org, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL: the server ends the pool's connections")
    await org.say("emp0", "hallo")  # the pool holds a connection now
    name = database_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        for _ in range(100):  # termination is asynchronous
            left = await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", name
            )
            if left == 0:
                break
            await asyncio.sleep(0.05)
    finally:
        await admin.close()
    with pytest.raises(StoreUnavailable):
        await org.say("emp0", "hallo")
    # The broken connection was not given back to the pool: the next event works.
    assert not (await org.say("emp0", "hallo")).duplicate
