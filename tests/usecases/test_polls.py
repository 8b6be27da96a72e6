"""The poll use case (bot/usecases/polls.py): each rule once, opening, and recurring polls.

The chat, dashboard and CLI only call these commands, so a rule tested here holds on all of
them; the last test checks that the three paths store the same schedule.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from bot.app import new_engine
from bot.cli.main import app as cli_app
from bot.config import Settings
from bot.engine import Engine
from bot.scheduler import Scheduler
from bot.usecases import polls as poll_cases
from bot.usecases.poll_repeat import MONTHLY, WEEKLY, next_occurrence
from bot.usecases.polls import PollDraft, PollRefused
from storage.db import Database
from storage.models import Poll
from storage.people import Audience
from storage.recurring_models import PollSchedule
from tests.e2e.support import client_for, log_in
from tests.support.org import Org

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# Monday 19 October 2026, 09:00 in Amsterdam (summer time, UTC+2).
MONDAY = datetime(2026, 10, 19, 7, 0, tzinfo=UTC)


async def _count(engine: Engine, model: type) -> int:
    async with engine.db.transaction(read_only=True) as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def _schedules(engine: Engine) -> list[PollSchedule]:
    async with engine.db.transaction(read_only=True) as session:
        stmt = select(PollSchedule).order_by(PollSchedule.id)
        return list((await session.execute(stmt)).scalars())


async def _create(engine: Engine, draft: PollDraft) -> poll_cases.Created:
    async with engine.db.transaction() as session:
        return await poll_cases.create_poll(engine.services(session), draft, actor_id=None)


@pytest.mark.parametrize(
    ("changes", "key", "field"),
    [
        ({"question": "  "}, "pollrule.question_length", "question"),
        ({"question": "x" * 501}, "pollrule.question_length", "question"),
        ({"options": ["A"]}, "pollrule.option_count", "options"),
        ({"options": [str(i) for i in range(11)]}, "pollrule.option_count", "options"),
        ({"options": ["A", "b" * 201]}, "pollrule.option_length", "options"),
        ({"options": ["A", " "]}, "pollrule.option_length", "options"),
        ({"options": ["Koffie", "KOFFIE "]}, "pollrule.option_duplicate", "options"),
        ({"closes_at": MONDAY - timedelta(minutes=1)}, "pollrule.closes_past", "closes"),
        (
            {"opens_at": MONDAY + timedelta(days=2), "closes_at": MONDAY + timedelta(days=1)},
            "pollrule.closes_past",
            "closes",
        ),
        ({"audience": Audience(department="Nergens")}, "pollrule.audience_empty", "audience"),
        ({"repeat": "daily"}, "pollrule.repeat_unknown", "repeat"),
    ],
)
async def test_each_rule_refuses_and_stores_nothing(
    engine: Engine, org: Org, changes: dict[str, object], key: str, field: str
) -> None:
    engine.clock = lambda: MONDAY
    draft = PollDraft(**{"question": "Q?", "options": ["A", "B"], **changes})  # type: ignore[arg-type]
    with pytest.raises(PollRefused) as refused:
        await _create(engine, draft)
    assert (refused.value.key, refused.value.field) == (key, field)
    assert await _count(engine, Poll) == 0 and await _count(engine, PollSchedule) == 0


async def test_everyone_with_nobody_on_the_roster_is_refused_too(engine: Engine) -> None:
    """The strictest path's rule (the dashboard's and the CLI's) now holds everywhere, and
    for every audience: a poll is never sent to nobody."""
    with pytest.raises(PollRefused) as refused:
        await _create(engine, PollDraft(question="Q?", options=["A", "B"]))
    assert refused.value.key == "pollrule.audience_empty"


async def test_a_poll_opens_now_and_asks_for_the_worker_or_waits_for_its_time(
    engine: Engine, org: Org
) -> None:
    engine.clock = lambda: MONDAY
    now = await _create(engine, PollDraft(question="Nu?", options=["A", "B"]))
    assert now.poll.status == "open" and now.sent == len(org.people) and now.wake
    later = PollDraft(question="Later?", options=["A", "B"], opens_at=MONDAY + timedelta(hours=1))
    scheduled = await _create(engine, later)
    assert scheduled.poll.status == "scheduled" and scheduled.sent == 0 and not scheduled.wake


def _weekly(at: str = "09:00", weekday: int = 0) -> PollSchedule:
    return PollSchedule(repeat=WEEKLY, weekday=weekday, at_time=at)


def test_weekly_keeps_its_local_time_across_both_dst_changes() -> None:
    # Summer time ends on Sunday 25 October 2026: 09:00 is 07:00 UTC before, 08:00 UTC after.
    after_autumn = next_occurrence(_weekly(), MONDAY, AMSTERDAM)
    assert after_autumn == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)
    assert after_autumn.astimezone(AMSTERDAM).strftime("%a %H:%M") == "Mon 09:00"
    # Summer time starts on Sunday 28 March 2027: 08:00 UTC before, 07:00 UTC after.
    winter = datetime(2027, 3, 22, 8, 0, tzinfo=UTC)
    assert next_occurrence(_weekly(), winter, AMSTERDAM) == datetime(2027, 3, 29, 7, 0, tzinfo=UTC)
    # 02:30 does not exist on 28 March 2027: the copy opens at 03:30 summer time (01:30 UTC).
    sunday = next_occurrence(_weekly("02:30", 6), winter, AMSTERDAM)
    assert sunday == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)


def test_monthly_uses_the_last_day_of_a_shorter_month() -> None:
    schedule = PollSchedule(repeat=MONTHLY, day=31, at_time="09:00")
    jan = datetime(2027, 1, 31, 8, 0, tzinfo=UTC)
    feb = next_occurrence(schedule, jan, AMSTERDAM)
    assert feb == datetime(2027, 2, 28, 8, 0, tzinfo=UTC)
    assert next_occurrence(schedule, feb, AMSTERDAM) == datetime(2027, 3, 31, 7, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_two_schedulers_open_the_next_copy_exactly_once(
    engine: Engine, org: Org, database_url: str
) -> None:
    """Two schedulers with pools of their own (as two processes have) tick at the same
    moment when the copy is due: one opens it; the next is a week later, 09:00 local."""
    clock = Clock(MONDAY)
    engine.clock = clock
    draft = PollDraft(
        question="Hoe was je week?",
        options=["Goed", "Zwaar"],
        closes_at=MONDAY + timedelta(days=2),
        repeat=WEEKLY,
    )
    await _create(engine, draft)
    [schedule] = await _schedules(engine)
    assert schedule.next_at == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)  # after the DST change
    other_db = Database(database_url)
    try:
        other = new_engine(other_db, engine.settings, clock=clock)

        async def both() -> int:
            ticks = await asyncio.gather(Scheduler(engine).tick(), Scheduler(other).tick())
            return sum(r.jobs["polls_repeat"] for r in ticks)

        clock.now = schedule.next_at - timedelta(seconds=1)
        assert await both() == 0
        clock.now = schedule.next_at
        assert await both() == 1
        assert await both() == 0
    finally:
        await other_db.dispose()
    async with engine.db.transaction(read_only=True) as session:
        polls = list((await session.execute(select(Poll).order_by(Poll.id))).scalars())
    assert [p.status for p in polls] == ["closed", "open"]  # the first closed on Wednesday
    assert polls[1].closes_at == schedule.next_at + timedelta(days=2)
    [moved] = await _schedules(engine)
    assert moved.next_at == datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    copies = [m.text for m in await org.outbox("emp0") if "Hoe was je week?" in m.text]
    assert len(copies) == 2 + 1  # two copies sent, and the first one's results


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    async with client_for(settings) as client:
        yield client


async def test_chat_cli_and_dashboard_store_the_same_schedule(
    engine: Engine, org: Org, client: TestClient, settings: Settings
) -> None:
    """The same recurring poll made on the three paths: the same schedule, each anchored on
    its first copy's opening time (weekday and local clock time), the next a week later."""
    for line in ["nieuwe peiling", "Pauze?", "Ja", "Nee", "klaar", "1", "1"]:
        await org.say("olga", line)
    for line in ["Geen sluitingstijd", "Afdeling Productie", "Openen en elke week herhalen"]:
        await org.say("olga", line)
    assert "Herhaalt elke week op" in (await org.last("olga")).text
    env = {"ACHTERBAN_DATABASE_URL": settings.db_url, "ACHTERBAN_DATA_DIR": str(settings.data_dir)}
    args = ["poll", "create", "--question", "Pauze?", "--option", "Ja", "--option", "Nee"]
    args += ["--audience", "department=Productie", "--repeat", "weekly"]
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, args, env=env)
    assert result.exit_code == 0, result.output
    csrf = await log_in(client, engine, org.people["olga"])
    form = {"csrf": csrf, "question": "Pauze?", "options": "Ja\nNee"}
    form |= {"audience": "department=Productie", "repeat": "weekly"}
    response = await client.post("/admin/polls", data=form, allow_redirects=False)
    assert response.status == 303

    schedules = await _schedules(engine)
    assert len(schedules) == 3
    columns = ["question", "options", "multiple", "anonymous", "hide_results", "audience"]
    columns += ["repeat", "day", "close_after_minutes"]
    stored = [{c: getattr(s, c) for c in columns} for s in schedules]
    assert stored == 3 * [
        {
            "question": "Pauze?",
            "options": ["Ja", "Nee"],
            "multiple": False,
            "anonymous": False,
            "hide_results": False,
            "audience": {"department": "Productie"},
            "repeat": WEEKLY,
            "day": None,
            "close_after_minutes": None,
        }
    ]
    async with engine.db.transaction(read_only=True) as session:
        polls = list((await session.execute(select(Poll).order_by(Poll.id))).scalars())
    for schedule, poll in zip(schedules, polls, strict=True):
        opened = poll.opens_at.astimezone(AMSTERDAM)
        assert (schedule.weekday, schedule.at_time) == (opened.weekday(), opened.strftime("%H:%M"))
        next_local = schedule.next_at.astimezone(AMSTERDAM)
        assert next_local.date() == opened.date() + timedelta(days=7)
        assert next_local.strftime("%H:%M") == schedule.at_time
