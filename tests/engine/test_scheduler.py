"""The scheduler tick opens, closes and reminds exactly once, whoever ticks.

The poll jobs are ordinary periodic jobs of the registry (dialogs/poll.py): these tests go
through the scheduler as the server runs it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import new_engine
from bot.engine import Engine
from bot.registry import EachDue
from bot.scheduler import Scheduler
from dialogs.poll import vote_payload
from storage.db import Database
from storage.people import Audience
from tests.support.org import Org

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


async def _scheduled_poll(
    engine: Engine, question: str, *, opens: datetime
) -> tuple[int, list[int]]:
    async with engine.db.transaction() as session:
        services = engine.services(session)
        poll = await services.polls.create(
            question=question, options=["A", "B"], multiple=False, anonymous=False,
            hide_results=False, audience=Audience(), opens_at=opens,
            closes_at=START + timedelta(hours=49), created_by=None,
        )  # fmt: skip
        return poll.id, [o.id for o in await services.polls.options(poll.id)]


async def test_scheduled_poll_opens_then_reminds_then_closes(engine: Engine, org: Org) -> None:
    clock = Clock()
    engine.clock = clock
    poll_id, options = await _scheduled_poll(engine, "Later?", opens=START + timedelta(hours=1))
    scheduler = Scheduler(engine)

    assert (await scheduler.tick()).jobs["polls_open"] == 0
    assert await org.outbox("emp0") == []
    clock.now = START + timedelta(hours=1)
    assert (await scheduler.tick()).jobs["polls_open"] == 1
    assert "Later?" in (await org.last("emp0")).text
    await org.say("emp0", choice=vote_payload(poll_id, options[0]))

    clock.now = START + timedelta(hours=26)  # 23 h before closing: inside the 24 h window
    report = await scheduler.tick()
    assert report.jobs["polls_remind"] == 1
    assert "Herinnering" in (await org.last("emp2")).text
    assert "Herinnering" not in (await org.last("emp0")).text  # voted: no reminder
    assert (await scheduler.tick()).jobs["polls_remind"] == 0  # only one reminder

    clock.now = START + timedelta(hours=49)
    assert (await scheduler.tick()).jobs["polls_close"] == 1
    assert "Uitslag" in (await org.last("emp2")).text
    assert (await scheduler.tick()).jobs["polls_close"] == 0


async def test_a_poll_opened_inside_its_reminder_window_is_reminded_a_tick_later(
    engine: Engine, org: Org
) -> None:
    """As before the poll jobs became periodic jobs: the tick that opens a poll does not also
    remind its audience (the reminder job sees the polls as the tick found them)."""
    clock = Clock()
    engine.clock = clock
    await _scheduled_poll(engine, "Kort?", opens=START + timedelta(hours=30))
    clock.now = START + timedelta(hours=30)  # 19 h before closing
    scheduler = Scheduler(engine)
    first = await scheduler.tick()
    assert (first.jobs["polls_open"], first.jobs["polls_remind"]) == (1, 0)
    assert (await scheduler.tick()).jobs["polls_remind"] == 1


async def test_concurrent_ticks_open_a_poll_once(engine: Engine, org: Org) -> None:
    async with engine.db.transaction() as session:
        services = engine.services(session)
        await services.polls.create(
            question="Nu?", options=["A", "B"], multiple=False, anonymous=False,
            hide_results=False, audience=Audience(), opens_at=services.now,
            closes_at=None, created_by=None,
        )  # fmt: skip
    reports = await asyncio.gather(*(Scheduler(engine).tick() for _ in range(5)))
    assert sum(r.jobs["polls_open"] for r in reports) == 1
    assert len([m for m in await org.outbox("emp0") if "Nu?" in m.text]) == 1


async def test_two_schedulers_open_remind_and_close_each_poll_once(
    engine: Engine, org: Org, database_url: str
) -> None:
    """Two schedulers with engines and connection pools of their own (as two processes have)
    tick at the same moments: each poll is opened, reminded and closed by one of them."""
    clock = Clock()
    engine.clock = clock
    other_db = Database(database_url)
    try:
        other = new_engine(other_db, engine.settings, clock=clock)
        polls = [
            await _scheduled_poll(engine, f"Samen {i}?", opens=START + timedelta(hours=1))
            for i in range(3)
        ]

        async def both() -> dict[str, int]:
            reports = await asyncio.gather(Scheduler(engine).tick(), Scheduler(other).tick())
            return {job: sum(r.jobs[job] for r in reports) for job in reports[0].jobs}

        clock.now = START + timedelta(hours=1)
        assert (await both())["polls_open"] == 3
        clock.now = START + timedelta(hours=26)
        assert (await both())["polls_remind"] == 3
        clock.now = START + timedelta(hours=49)
        assert (await both())["polls_close"] == 3
        assert all(v == 0 for v in (await both()).values())
    finally:
        await other_db.dispose()
    texts = [m.text for m in await org.outbox("emp2")]
    for i in range(len(polls)):
        mine = [t for t in texts if f"Samen {i}?" in t]
        assert len(mine) == 3, mine  # the poll, one reminder, one result
        assert sum("Herinnering" in t for t in mine) == 1, mine
        assert sum("Uitslag" in t for t in mine) == 1, mine


async def test_one_failing_poll_neither_stops_the_others_nor_the_other_jobs(
    engine: Engine, org: Org, caplog: pytest.LogCaptureFixture
) -> None:
    engine.clock = Clock()
    poll_id, _ = await _scheduled_poll(engine, "Eerst?", opens=START)
    await _scheduled_poll(engine, "Daarna?", opens=START)
    real = engine.registry.periodic_jobs["polls_open"]
    assert isinstance(real, EachDue)

    async def each(services, item: int) -> int:  # type: ignore[no-untyped-def]
        if item == poll_id:
            raise RuntimeError("a bug in one poll")
        return await real.each(services, item)

    engine.registry.periodic_jobs["polls_open"] = EachDue(due=real.due, each=each)
    with caplog.at_level(logging.ERROR):
        report = await Scheduler(engine).tick()
    assert report.jobs["polls_open"] == 1
    assert "retention" in report.jobs  # the jobs after it ran too
    assert any("Daarna?" in m.text for m in await org.outbox("emp0"))
    assert "periodic job failed" in caplog.text
