"""Group commit (bot/group_commit.py): events that arrive together share a transaction, an
error in one of them costs the others nothing, and slow events are not grouped — on SQLite
and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import io
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import event, select

from bot.app import build_registry
from bot.config import Settings
from bot.engine import Engine, Outcome
from bot.group_commit import GroupCommit
from bot.messages import Incoming, MediaRef
from dialogs.poll import vote_payload
from storage.db import Database
from storage.models import Ballot, InboundEvent, utcnow
from storage.raw import Query
from storage.unit import Unit, raw
from tests.support.databases import count
from tests.support.org import Org
from tests.support.polls import create_poll, everyone_votes_at_once

_REMEMBER = Query(
    "INSERT INTO inbound_events (channel, event_key, received_at) VALUES ($1, $2, $3)",
    params=(None, None, InboundEvent.__table__.c.received_at.type),
)


def commits(db: Database) -> list[int]:
    counted: list[int] = []
    event.listen(db.engine.sync_engine, "commit", lambda *_: counted.append(1))
    return counted


async def event_ids(db: Database) -> set[str]:
    async with db.transaction(read_only=True) as session:
        return set((await session.execute(select(InboundEvent.event_key))).scalars())


async def test_votes_arriving_together_share_commits_and_all_count(engine: Engine) -> None:
    counted = commits(engine.db)
    await everyone_votes_at_once(engine, 60)
    assert await count(engine.db, Ballot) == 60
    assert len(counted) < 60 / 2  # the org and the poll are made in a few, the read adds one


async def test_an_error_in_one_event_rolls_back_that_event_only(db: Database) -> None:
    """One runner: the ten events form one group, and the fifth fails."""

    async def handle(unit: Unit, key: str) -> str:
        await (await raw(unit)).execute(_REMEMBER, "test", key, utcnow())
        if key == "e4":
            raise RuntimeError("a bug in one dialog")
        return key.upper()

    group = GroupCommit(db, handle, runners=1)
    counted = commits(db)
    results = await asyncio.gather(
        *(group.submit(f"e{i}") for i in range(10)), return_exceptions=True
    )
    assert isinstance(results[4], RuntimeError)
    assert [r for i, r in enumerate(results) if i != 4] == [f"E{i}" for i in range(10) if i != 4]
    assert await event_ids(db) == {f"e{i}" for i in range(10) if i != 4}
    assert len(counted) == 9 + 1  # the group rolled back, then one by one; the read


async def test_a_caller_that_stops_waiting_leaves_its_event_standing(db: Database) -> None:
    started = asyncio.Event()

    async def handle(unit: Unit, key: str) -> str:
        await (await raw(unit)).execute(_REMEMBER, "test", key, utcnow())
        started.set()
        await asyncio.sleep(0.05)
        return key

    group = GroupCommit(db, handle, runners=1)
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    try:
        gone = asyncio.create_task(group.submit("gone"))
        stays = asyncio.create_task(group.submit("stays"))
        await started.wait()
        gone.cancel()
        assert await stays == "stays"
        await asyncio.sleep(0.1)
    finally:
        loop.set_exception_handler(None)
    assert gone.cancelled() and errors == []
    assert await event_ids(db) == {"gone", "stays"}


async def test_a_photo_that_downloads_slowly_holds_up_no_group(
    engine: Engine, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite: one writer at a time, so any event's download holds up the rest")
    org = await Org.create(engine, employees=20)
    poll_id, options = await create_poll(engine, ["A", "B"])
    downloading, release = asyncio.Event(), asyncio.Event()

    async def slow_fetch(channel: str, ref: MediaRef) -> bytes:
        downloading.set()
        await release.wait()
        return jpeg()

    engine.fetch_media = slow_fetch
    photo = MediaRef(url="https://files.example/unsafe.jpg", content_type="image/jpeg", size=900)
    # The photo and the votes arrive together, as a group would take them.
    report = asyncio.create_task(
        engine.handle(dataclasses.replace(org.incoming("emp0"), attachments=(photo,)))
    )
    votes = asyncio.gather(
        *(
            engine.handle(org.incoming(f"emp{i}", choice=vote_payload(poll_id, options[0])))
            for i in range(1, 20)
        )
    )
    await asyncio.wait_for(downloading.wait(), 5)
    outcomes = await asyncio.wait_for(votes, 5)
    assert len(outcomes) == 19 and not report.done()
    release.set()
    assert not (await report).duplicate


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(out, "JPEG")
    return out.getvalue()


async def test_retries_during_the_first_delivery_wait_for_it_and_count_once(
    engine: Engine, org: Org
) -> None:
    poll_id, options = await create_poll(engine, ["Ja", "Nee"])
    vote = org.incoming("emp0", choice=vote_payload(poll_id, options[0]), event_id="Ev-r")
    counted = commits(engine.db)
    outcomes = await asyncio.gather(*(engine.handle(vote) for _ in range(5)))
    assert sorted(o.duplicate for o in outcomes) == [False, True, True, True, True]
    assert len(counted) == 1  # the retries never reached the database
    assert await count(engine.db, Ballot) == 1


class FailsOnce(Engine):
    """An engine whose first event fails (a bug, a broken connection)."""

    failed = False

    async def _in_unit(self, unit: Unit, incoming: Incoming) -> Outcome:
        if not self.failed:
            self.failed = True
            raise RuntimeError("the first delivery failed")
        return await super()._in_unit(unit, incoming)


async def test_a_retry_waiting_for_a_first_delivery_that_fails_is_handled(
    db: Database, settings: Settings
) -> None:
    engine = FailsOnce(db, settings, build_registry())
    org = await Org.create(engine)
    poll_id, options = await create_poll(engine, ["Ja", "Nee"])
    vote = org.incoming("emp0", choice=vote_payload(poll_id, options[1]), event_id="Ev-f")
    first, retry = await asyncio.gather(
        engine.handle(vote), engine.handle(vote), return_exceptions=True
    )
    assert isinstance(first, RuntimeError)
    assert isinstance(retry, Outcome) and not retry.duplicate and retry.replies == 1
    assert await count(engine.db, Ballot) == 1
