"""`achterban stats`: reach and response rates per item, breakdowns with small groups never
shown, the trend per month, and poll targets."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import typer
from typer.testing import CliRunner

from bot.app import new_engine
from bot.cli.stats import stats_app
from bot.engine import Engine
from bot.usecases.nominations import announce
from bot.usecases.questions import open_question
from dialogs.poll import vote_payload
from storage.broadcast_responses import Responses
from storage.db import Database
from storage.nominations import Nominations, Nominator
from storage.people import Audience
from storage.questions import Questions
from storage.stats import Group, Stats, suppress
from tests.support.broadcasts import START, Clock, create, deliver
from tests.support.org import Org
from tests.support.polls import create_poll

TZ = ZoneInfo("Europe/Amsterdam")
app = typer.Typer()
app.add_typer(stats_app, name="stats")


@pytest.fixture
def engine(db: Database, settings) -> Engine:  # type: ignore[no-untyped-def]
    return new_engine(db, settings, clock=Clock())


@pytest.fixture
async def big(engine: Engine) -> Org:
    """16 people: Kantoor 2, Productie 7, Logistiek 7; Tilburg 8, Eindhoven 8."""
    return await Org.create(engine, employees=14)


async def report(engine: Engine, since: date | None = None) -> dict[str, Any]:
    start = None
    if since is not None:
        start = START.astimezone(TZ).replace(year=since.year, month=since.month, day=since.day)
    async with engine.db.transaction(read_only=True) as session:
        return await Stats(session, TZ).report(start)


def groups(part: dict[str, Any]) -> list[tuple[str, int, int]]:
    return [(g["group"], g["reach"], g["responses"]) for g in part["groups"]]


def test_small_groups_are_merged_so_none_can_be_recovered() -> None:
    def run(**sizes: int) -> dict[str, Any]:
        return suppress({k: Group(k, n, n // 2) for k, n in sizes.items()})

    assert groups(run(A=5, B=9)) == [("A", 5, 2), ("B", 9, 4)]
    # B alone would be given away by the total minus A: A is merged with it.
    assert groups(run(A=10, B=3)) == [("(other)", 13, 6)]
    assert groups(run(A=10, B=6, C=3)) == [("A", 10, 5), ("(other)", 9, 4)]
    assert groups(run(A=10, B=3, C=2)) == [("A", 10, 5), ("(other)", 5, 2)]
    hidden = run(A=3, B=1)
    assert (hidden["groups"], hidden["hidden"], hidden["merged"]) == ([], True, 2)


async def test_poll_reach_response_rate_breakdowns_and_target(engine: Engine, big: Org) -> None:
    poll_id, options = await create_poll(engine, ["Ja", "Nee"], question="Vier dagen werken?")
    await deliver(engine)
    for key in ("emp0", "emp2", "emp4", "emp1", "olga"):
        await big.say(key, choice=vote_payload(poll_id, options[0]))
    async with engine.db.transaction() as session:
        await Responses(session).set_target(poll_id, 30, None, START)
    [item] = (await report(engine))["items"]
    assert (item["kind"], item["id"], item["title"]) == ("poll", poll_id, "Vier dagen werken?")
    assert (item["reach"], item["responses"], item["response_rate"]) == (16, 5, 0.3125)
    assert (item["target"], item["target_reached"]) == (30, True)
    assert groups(item["by_channel"]) == [("console", 16, 5)]
    # Kantoor (2) is too small; with it alone the others would give it away, so the smallest
    # other group is merged in too.
    assert groups(item["by_department"]) == [("Productie", 7, 3), ("(other)", 9, 2)]
    assert groups(item["by_location"]) == [("Eindhoven", 8, 1), ("Tilburg", 8, 4)]
    async with engine.db.transaction() as session:
        await Responses(session).set_target(poll_id, 40, None, START)
    [item] = (await report(engine))["items"]
    assert (item["target"], item["target_reached"]) == (40, False)


async def test_a_small_audience_shows_no_breakdown(engine: Engine, big: Org) -> None:
    poll_id, options = await create_poll(engine, ["Ja", "Nee"], audience=Audience("Kantoor"))
    await deliver(engine)
    await big.say("olga", choice=vote_payload(poll_id, options[1]))
    [item] = (await report(engine))["items"]
    assert (item["reach"], item["responses"]) == (2, 1)
    for dim in ("channel", "department", "location"):
        assert item[f"by_{dim}"]["groups"] == [] and item[f"by_{dim}"]["hidden"] is True


async def test_anonymous_poll_counts_participation_only(engine: Engine, big: Org) -> None:
    poll_id, options = await create_poll(engine, ["A", "B"], anonymous=True)
    await deliver(engine)
    for key in ("emp0", "emp2", "emp4", "emp6", "emp8", "emp10"):
        await big.say(key, choice=vote_payload(poll_id, options[0]))
    [item] = (await report(engine))["items"]
    assert (item["reach"], item["responses"]) == (16, 6)
    assert ("Productie", 7, 6) in groups(item["by_department"])


async def test_broadcasts_questions_campaigns_and_the_trend(engine: Engine, big: Org) -> None:
    november = await create(engine, "Nieuws in november")
    async with engine.db.transaction() as session:
        services = engine.services(session)
        question = await Questions(session).create(
            text="Wat moet beter?", anonymous=False, audience=Audience(),
            closes_at=None, created_by=None, now=services.now,
        )  # fmt: skip
        await open_question(services, question, actor_id=None)
        campaign = await Nominations(session).create_campaign(
            title="OR 2027", closes_at=START + timedelta(days=14), anonymous=True,
            max_per_person=None, created_by=None, now=START,
        )  # fmt: skip
        await announce(services, campaign, None)
    await deliver(engine)
    await big.say("emp0", choice=f"bc:{november}:useful")
    await big.say("emp2", choice=f"bc:{november}:not_useful")
    async with engine.db.transaction() as session:
        await Questions(session).answer(question, big.people["emp3"].id, "Koffie", START)
        nominations = Nominations(session)
        emp5, emp7 = big.people["emp5"].id, big.people["emp7"].id
        await nominations.nominate(campaign.id, Nominator(person_id=emp5), emp7, None, START)
    assert isinstance(engine.clock, Clock)
    engine.clock.advance(days=10)
    december = await create(engine, "Nieuws in december")
    await deliver(engine)

    body = await report(engine)
    kinds = {(i["kind"], i["id"]): i for i in body["items"]}
    assert (kinds["broadcast", november]["reach"], kinds["broadcast", november]["responses"]) == (
        16,
        2,
    )
    assert kinds["question", question.id]["responses"] == 1
    assert kinds["campaign", campaign.id]["responses"] == 1
    assert kinds["campaign", campaign.id]["reach"] == 16
    assert kinds["broadcast", december]["date"] == "2026-12-05"
    trend = {(t["month"], t["kind"]): t for t in body["trend"]}
    assert trend["2026-11", "broadcast"]["items"] == 1
    assert trend["2026-11", "broadcast"]["response_rate"] == 0.125
    assert trend["2026-12", "broadcast"]["responses"] == 0
    later = await report(engine, since=date(2026, 12, 1))
    assert [(i["kind"], i["id"]) for i in later["items"]] == [("broadcast", december)]


async def test_cli_stats_and_target(engine: Engine, big: Org, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    poll_id, options = await create_poll(engine, ["Ja", "Nee"], question="Thuiswerken?")
    await deliver(engine)
    await big.say("emp0", choice=vote_payload(poll_id, options[0]))
    env = {
        "ACHTERBAN_DATABASE_URL": settings.db_url,
        "ACHTERBAN_DATA_DIR": str(tmp_path),
        "COLUMNS": "200",  # a wide terminal: the table does not wrap the title
    }

    async def cli(*args: str) -> Any:
        runner = CliRunner()
        return await asyncio.to_thread(runner.invoke, app, list(args), env=env)

    result = await cli("stats", "target", str(poll_id), "50")
    assert result.exit_code == 0, result.output
    assert (await cli("stats", "target", "999", "50")).exit_code == 1
    assert (await cli("stats", "target", str(poll_id), "150")).exit_code == 2
    result = await cli("stats", "--format", "json")
    assert result.exit_code == 0, result.output
    [item] = json.loads(result.stdout)["items"]
    assert (item["target"], item["target_reached"], item["responses"]) == (50, False, 1)
    table = await cli("stats", "--since", "2026-01-01")
    assert table.exit_code == 0, table.output
    assert "Thuiswerken?" in table.stdout and "Trend per month" in table.stdout
    assert "50% missed" in table.stdout
    assert (await cli("stats", "--since", "gisteren")).exit_code == 2
