"""`achterban stats`: reach and response rates per item, breakdowns with small groups never
shown, the trend per month, and poll targets."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import typer
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli.stats import stats_app
from bot.engine import Engine
from bot.messages import Outgoing
from bot.usecases.nominations import announce
from bot.usecases.questions import open_question
from dialogs.poll import vote_payload
from storage.broadcast_models import BroadcastReaction, BroadcastRecipient, BroadcastReply
from storage.broadcast_responses import Responses
from storage.models import Ballot, OutboxMessage, Participation, Person, Poll
from storage.nominations import Nominations, Nominator
from storage.outbox import outbox_row
from storage.people import Audience
from storage.prompt_items import item_of
from storage.questions import Questions
from storage.stats import DIMENSIONS, Group, Stats, suppress
from storage.stats_sql import REACHED, REPORTED
from tests.support.broadcasts import START, Clock, create, deliver
from tests.support.org import Org
from tests.support.polls import create_poll

TZ = ZoneInfo("Europe/Amsterdam")
app = typer.Typer()
app.add_typer(stats_app, name="stats")


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


def straight_count(rows: dict[str, list[Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    """The figures counted the plain way: every row read, every person looked at."""
    reached: dict[tuple[str, int], set[int]] = defaultdict(set)
    responded: dict[tuple[str, int], set[int]] = defaultdict(set)
    seen: dict[tuple[str, int], dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    hit: dict[tuple[str, int], dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    ok = {o.id: o.status in REACHED or o.delivery_status in REPORTED for o in rows["outbox"]}
    for o in rows["outbox"]:
        key = item_of(o.prompt)
        if key and o.person_id:
            seen[key][o.person_id].add(o.channel)
            if ok[o.id]:
                reached[key].add(o.person_id)
                hit[key][o.person_id].add(o.channel)
    for r in rows["recipients"]:
        if r.state == "queued":
            key = ("broadcast", r.broadcast_id)
            hit[key][r.person_id].add(r.channel)
            if ok.get(r.outbox_id):
                reached[key].add(r.person_id)
            if r.feedback or r.acknowledged_at:
                responded[key].add(r.person_id)
    anonymous = {p.id for p in rows["polls"] if p.anonymous}
    for kind, item, person in rows["responses"]:
        if person is not None and (kind != "poll" or (item in anonymous) == (kind == "anon")):
            responded["poll" if kind == "anon" else kind, item].add(person)
    people = {p.id: p for p in rows["people"]}
    out = {}
    for key in set(reached) | set(responded):
        population = reached[key] | responded[key]
        breakdowns = {}
        for dim in ("channel", "department", "location"):
            by: dict[str, Group] = {}
            for pid in population:
                name = (
                    max(hit[key][pid] or seen[key][pid], default=None)
                    if dim == "channel"
                    else getattr(people.get(pid), dim, None)
                ) or "(unknown)"
                group = by.setdefault(name, Group(name))
                group.reach += 1
                group.responses += pid in responded[key]
            breakdowns[f"by_{dim}"] = suppress(by)
        out[key] = {"reach": len(population), "responses": len(responded[key]), **breakdowns}
    return out


async def test_figures_equal_a_straight_count(engine: Engine, big: Org) -> None:
    """Reminders, failed and receipted messages, people without a department, anonymous and
    named polls, a question and a broadcast: the SQL figures match counting row by row."""
    named, n_opts = await create_poll(engine, ["Ja", "Nee"], question="Benoemd?")
    anon, a_opts = await create_poll(engine, ["A", "B"], anonymous=True)
    bc = await create(engine, "Nieuws")
    await deliver(engine)
    ids = {k: p.id for k, p in big.people.items()}
    for key in ("emp0", "emp1", "emp2", "emp3", "emp5", "emp8", "olga"):
        await big.say(key, choice=vote_payload(named, n_opts[0]))
    for key in ("emp0", "emp4", "emp6", "emp9", "emp11", "emp12"):
        await big.say(key, choice=vote_payload(anon, a_opts[1]))
    await big.say("emp7", choice=f"bc:{bc}:useful")
    prompt = {"choices": [["Ja", vote_payload(named, n_opts[0])]], "multiple": False}
    async with engine.db.transaction() as session:
        stray = Person(name="Zonder afdeling", email="zonder@example.org")
        session.add(stray)
        await session.flush()
        extra = [  # (person, channel, status, delivery status)
            (stray.id, "whatsapp", "sent", None),  # no department or location
            (ids["emp0"], "whatsapp", "failed", None),  # a reminder that failed
            (ids["emp9"], "slack", "failed", "read"),  # a receipt says it was read
            (ids["emp10"], "teams", "pending", None),  # not reached yet
        ]
        for person, channel, status, receipt in extra:
            row = outbox_row(channel, "x", person, Outgoing("Herinnering"), now=START)
            session.add(OutboxMessage(**row, prompt=prompt, status=status, delivery_status=receipt))
        await Responses(session).set_target(named, 50, None, START)
    async with engine.db.transaction(read_only=True) as session:

        async def all_of(stmt: Any) -> list[Any]:
            return list((await session.execute(stmt)).scalars())

        rows = {
            "outbox": await all_of(select(OutboxMessage)),
            "recipients": await all_of(select(BroadcastRecipient)),
            "polls": await all_of(select(Poll)),
            "people": await all_of(select(Person)),
            "responses": [
                *[("poll", b.poll_id, b.person_id) for b in await all_of(select(Ballot))],
                *[("anon", b.poll_id, b.person_id) for b in await all_of(select(Participation))],
                *[
                    ("broadcast", r.broadcast_id, r.person_id)
                    for t in (BroadcastReply, BroadcastReaction)
                    for r in await all_of(select(t))
                ],
            ],
        }
    expected = straight_count(rows)
    body = await report(engine)
    got = {
        (i["kind"], i["id"]): {
            k: i[k] for k in ("reach", "responses", *[f"by_{d}" for d in DIMENSIONS])
        }
        for i in body["items"]
    }
    assert set(got) == {("poll", named), ("poll", anon), ("broadcast", bc)}
    assert got == expected
    # The seeded quirks are in there: 16 colleagues plus the stray person, 7 votes.
    assert (got["poll", named]["reach"], got["poll", named]["responses"]) == (17, 7)
