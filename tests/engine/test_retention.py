"""The retention job deletes what docs/privacy.md says is deleted, when it says so."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bot.engine import Engine
from bot.scheduler import Scheduler
from storage.models import InboundEvent, OutboxMessage
from storage.outbox import FAILED, HELD
from storage.web import WebMailbox
from storage.web_models import WebMessage
from tests.support.broadcasts import Clock
from tests.support.databases import count
from tests.support.org import Org


async def test_dedupe_keys_go_once_platforms_stop_retrying(engine: Engine, org: Org) -> None:
    clock = Clock()
    engine.clock = clock
    await org.say("emp0", "hallo", event_id="Ev-old")
    clock.now += timedelta(hours=23)
    await org.say("emp0", "hallo", event_id="Ev-new")
    assert await count(engine.db, InboundEvent) == 2
    clock.now += timedelta(hours=2)  # the first is 25 h old, the second 2 h
    assert (await Scheduler(engine).tick()).jobs["retention"] == 1
    assert await count(engine.db, InboundEvent) == 1
    # Still within its window, a retry of the second is recognised as one.
    assert (await org.say("emp0", "hallo", event_id="Ev-new")).duplicate


async def test_a_held_message_expires_with_its_body_erased(engine: Engine, org: Org) -> None:
    clock = Clock()
    engine.clock = clock
    await org.say("emp0", "hallo")
    async with engine.db.transaction() as session:
        await session.execute(update(OutboxMessage).values(status=HELD))
    clock.now += timedelta(days=13)
    await Scheduler(engine).tick()
    assert await count(engine.db, OutboxMessage, OutboxMessage.status == HELD) > 0
    clock.now += timedelta(days=2)
    await Scheduler(engine).tick()
    async with engine.db.transaction(read_only=True) as session:
        rows = (await session.execute(select(OutboxMessage))).scalars().all()
    assert rows and all(r.status == FAILED and r.payload is None for r in rows)


async def test_web_chat_messages_never_shown_go_after_the_set_days(
    engine: Engine, org: Org
) -> None:
    clock = Clock()
    engine.clock = clock
    engine.settings = engine.settings.model_copy(update={"web_mailbox_retention_days": 2.0})
    account = f"person-{org.people['emp0'].id}"
    await org.say("emp0", "hallo", channel="web", account=account)  # links the web account
    async with engine.db.transaction() as session:
        await WebMailbox(session).put(account, {"text": "Hallo Emp0"}, now=clock.now)
    clock.now += timedelta(days=1)
    await Scheduler(engine).tick()
    assert await count(engine.db, WebMessage) == 1
    clock.now += timedelta(days=1, hours=1)
    await Scheduler(engine).tick()
    assert await count(engine.db, WebMessage) == 0
