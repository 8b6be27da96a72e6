"""The flow of one event: dedupe, identity, locking, outbox — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlalchemy import event, select

from bot.app import new_engine
from bot.config import Settings
from bot.delivery import DeliveryWorker
from bot.engine import Engine
from bot.messages import Incoming, Profile, SendResult
from dialogs.poll import vote_payload
from storage.db import Database
from storage.models import Ballot, ChannelAccount, InboundEvent, OutboxMessage, Person
from tests.support.databases import count
from tests.support.org import Org
from tests.support.polls import create_poll, everyone_votes_at_once


async def test_duplicate_event_is_handled_once(engine: Engine, org: Org) -> None:
    poll_id, options = await create_poll(engine, ["Ja", "Nee"])
    event = org.incoming("emp0", choice=vote_payload(poll_id, options[0]), event_id="Ev1")
    first = await engine.handle(event)
    again = await engine.handle(event)
    assert not first.duplicate and again.duplicate
    assert await count(engine.db, Ballot) == 1
    assert await count(engine.db, InboundEvent) == 1
    replies = [m for m in await org.outbox("emp0") if "Ja" in m.text and "Dank" in m.text]
    assert len(replies) == 1


async def test_same_event_id_on_two_channels_is_two_events(engine: Engine, org: Org) -> None:
    await engine.handle(org.incoming("emp0", "hallo", event_id="X", channel="console"))
    outcome = await engine.handle(org.incoming("emp0", "hallo", event_id="X", channel="web"))
    assert not outcome.duplicate


async def test_twenty_concurrent_answers_of_one_person_make_one_vote(
    engine: Engine, org: Org
) -> None:
    poll_id, options = await create_poll(engine, ["A", "B", "C"])
    events = [org.incoming("emp2", choice=vote_payload(poll_id, options[i % 3])) for i in range(20)]
    await asyncio.gather(*(engine.handle(e) for e in events))
    assert await count(engine.db, Ballot) == 1


async def test_two_hundred_concurrent_voters_make_two_hundred_votes(engine: Engine) -> None:
    await everyone_votes_at_once(engine, 200)
    assert await count(engine.db, Ballot) == 200


async def test_more_events_than_connections_wait_for_the_pool_without_opening_more(
    db: Database, settings: Settings
) -> None:
    """Connections opened beyond the pool for a burst and closed again after it cost a new
    PostgreSQL backend each (storage/db.py): events wait for the pool's own instead. (On
    SQLite events queue for the one writer, on one connection.)"""
    small = Database(db.url, pool_size=3)
    opened = []
    event.listen(small.engine.sync_engine, "connect", lambda *_: opened.append(1))
    engine = new_engine(small, settings)
    try:
        await everyone_votes_at_once(engine, 60)
        assert await count(engine.db, Ballot) == 60
        assert len(opened) <= (1 if small.is_sqlite else 3)
    finally:
        await small.dispose()


async def test_crash_after_commit_before_send_delivers_after_restart(
    engine: Engine, org: Org, settings
) -> None:
    await org.say("emp0", "hallo")  # committed; the process "dies" before any delivery
    assert await count(engine.db, OutboxMessage, OutboxMessage.status == "pending") >= 1

    class Recorder:
        channel = "console"

        def __init__(self) -> None:
            self.sent: list[str] = []

        def render(self, outgoing):
            return outgoing.text

        async def send(self, recipient, rendered):
            self.sent.append(rendered)
            return SendResult("m1")

        async def fetch_media(self, ref):
            return b""

    recorder = Recorder()
    restarted = DeliveryWorker(engine.db, settings, {"console": recorder})
    assert await restarted.drain() >= 1
    assert any("Hallo Emp0" in text for text in recorder.sent)
    assert await count(engine.db, OutboxMessage, OutboxMessage.status == "pending") == 0
    assert await restarted.drain() == 0  # nothing is sent twice


async def test_unknown_sender_under_roster_policy_is_refused_politely(engine: Engine) -> None:
    event = Incoming(
        channel="console", event_id="u1", account="stranger@x.org", text="hoi",
        profile=Profile(email="stranger@x.org"),
    )  # fmt: skip
    outcome = await engine.handle(event)
    assert outcome.refused
    assert await count(engine.db, Person) == 0
    assert await count(engine.db, ChannelAccount) == 0
    async with engine.db.transaction(read_only=True) as session:
        row = (await session.execute(select(OutboxMessage))).scalar_one()
    assert row.account == "stranger@x.org" and "personeelsbestand" in row.payload["text"]


async def test_open_membership_creates_the_person_once(engine: Engine) -> None:
    open_engine = new_engine(engine.db, engine.settings.model_copy(update={"membership": "open"}))
    event = Incoming(
        channel="console", event_id="n1", account="new@x.org", text="hello", locale="en-GB",
        profile=Profile(email="new@x.org", name="New Colleague"),
    )  # fmt: skip
    await open_engine.handle(event)
    await open_engine.handle(Incoming(channel="console", event_id="n2", account="new@x.org"))
    async with engine.db.transaction(read_only=True) as session:
        person = (await session.execute(select(Person))).scalar_one()
    assert (person.name, person.language) == ("New Colleague", "en")


async def test_one_person_on_two_channels_votes_once(engine: Engine, org: Org) -> None:
    poll_id, options = await create_poll(engine, ["A", "B"])
    await engine.handle(org.incoming("emp3", choice=vote_payload(poll_id, options[0])))
    await engine.handle(
        org.incoming(
            "emp3", choice=vote_payload(poll_id, options[1]), channel="slack", account="U999"
        )
    )
    assert await count(engine.db, Ballot) == 1
    assert (
        await count(engine.db, ChannelAccount, ChannelAccount.person_id == org.people["emp3"].id)
        == 2
    )


async def test_database_outage_raises_store_unavailable_and_writes_nothing(
    org: Org, settings
) -> None:
    from bot.errors import StoreUnavailable
    from storage.db import Database

    url = settings.db_url
    broken_url = (
        "sqlite+aiosqlite:////nonexistent-dir/x.db"
        if url.startswith("sqlite")
        else "postgresql+asyncpg://postgres@127.0.0.1:1/none"
    )
    broken = new_engine(Database(broken_url), settings)
    try:
        await broken.handle(org.incoming("emp0", "hallo"))
    except StoreUnavailable:
        pass
    else:
        raise AssertionError("expected StoreUnavailable")
    finally:
        await broken.db.dispose()
