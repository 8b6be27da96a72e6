"""The scheduler tick opens, closes and reminds exactly once, whoever ticks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.engine import Engine
from bot.scheduler import Scheduler
from dialogs.poll import vote_payload
from storage.people import Audience
from tests.support.org import Org

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


async def test_scheduled_poll_opens_then_reminds_then_closes(engine: Engine, org: Org) -> None:
    clock = Clock()
    engine.clock = clock
    async with engine.db.transaction() as session:
        services = engine.services(session)
        poll = await services.polls.create(
            question="Later?", options=["A", "B"], multiple=False, anonymous=False,
            hide_results=False, audience=Audience(), opens_at=START + timedelta(hours=1),
            closes_at=START + timedelta(hours=49), created_by=None,
        )  # fmt: skip
        options = [o.id for o in await services.polls.options(poll.id)]
    scheduler = Scheduler(engine)

    assert (await scheduler.tick()).opened == 0
    assert await org.outbox("emp0") == []
    clock.now = START + timedelta(hours=1)
    assert (await scheduler.tick()).opened == 1
    assert "Later?" in (await org.last("emp0")).text
    await org.say("emp0", choice=vote_payload(poll.id, options[0]))

    clock.now = START + timedelta(hours=26)  # 23 h before closing: inside the 24 h window
    report = await scheduler.tick()
    assert report.reminded == 1
    assert "Herinnering" in (await org.last("emp2")).text
    assert "Herinnering" not in (await org.last("emp0")).text  # voted: no reminder
    assert (await scheduler.tick()).reminded == 0  # only one reminder

    clock.now = START + timedelta(hours=49)
    assert (await scheduler.tick()).closed == 1
    assert "Uitslag" in (await org.last("emp2")).text
    assert (await scheduler.tick()).closed == 0


async def test_concurrent_ticks_open_a_poll_once(engine: Engine, org: Org) -> None:
    async with engine.db.transaction() as session:
        services = engine.services(session)
        await services.polls.create(
            question="Nu?", options=["A", "B"], multiple=False, anonymous=False,
            hide_results=False, audience=Audience(), opens_at=services.now,
            closes_at=None, created_by=None,
        )  # fmt: skip
    reports = await asyncio.gather(*(Scheduler(engine).tick() for _ in range(5)))
    assert sum(r.opened for r in reports) == 1
    assert len([m for m in await org.outbox("emp0") if "Nu?" in m.text]) == 1
