"""`achterban stats` keeps the figures of closed items (storage/stats_cache.py): the report
with the cache equals the one counted live, and what can still change a closed item's figures
(a message not yet settled, a late receipt, a roster change, `person forget`) makes it
recount."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update

from bot.engine import Engine
from bot.messages import Outgoing
from dialogs.poll import vote_payload
from storage.models import OutboxMessage, Person, Poll
from storage.outbox import outbox_row
from storage.stats import report as stats_report
from storage.stats_cache_models import StatsCell
from tests.support.broadcasts import START, create, deliver
from tests.support.org import Org
from tests.support.polls import create_poll

TZ = ZoneInfo("Europe/Amsterdam")


async def report(engine: Engine) -> dict[str, Any]:
    """As `achterban stats` makes it: read-only, then the cache written apart."""
    return await stats_report(engine.db, TZ, None)


async def live(engine: Engine) -> dict[str, Any]:
    """The report counted from scratch: the cache emptied first (it is refilled)."""
    async with engine.db.transaction() as session:
        await session.execute(delete(StatsCell))
    return await report(engine)


async def cached_items(engine: Engine) -> set[tuple[str, int]]:
    async with engine.db.transaction(read_only=True) as session:
        return {(k, i) for k, i in await session.execute(select(StatsCell.kind, StatsCell.item))}


def polls(body: dict[str, Any]) -> dict[int, int]:
    return {i["id"]: i["reach"] for i in body["items"] if i["kind"] == "poll"}


async def close(engine: Engine, poll_id: int) -> None:
    async with engine.db.transaction() as session:
        await session.execute(update(Poll).where(Poll.id == poll_id).values(status="closed"))


async def setup(engine: Engine, big: Org) -> tuple[int, int, int]:
    closed, c_opts = await create_poll(engine, ["Ja", "Nee"], question="Dicht?")
    anon, a_opts = await create_poll(engine, ["A", "B"], anonymous=True, question="Anoniem?")
    still_open, o_opts = await create_poll(engine, ["Ja", "Nee"], question="Open?")
    bc = await create(engine, "Nieuws")
    await deliver(engine)
    for key in ("emp0", "emp1", "emp2", "emp3", "emp5", "olga"):
        await big.say(key, choice=vote_payload(closed, c_opts[0]))
    for key in ("emp4", "emp6", "emp9", "emp11"):
        await big.say(key, choice=vote_payload(anon, a_opts[1]))
    await big.say("emp7", choice=vote_payload(still_open, o_opts[0]))
    await big.say("emp8", choice=f"bc:{bc}:useful")
    await deliver(engine)
    await close(engine, closed)
    await close(engine, anon)
    return closed, anon, still_open


async def test_closed_polls_are_cached_and_the_report_stays_the_same(
    engine: Engine, big: Org
) -> None:
    closed, anon, _ = await setup(engine, big)
    first = await report(engine)
    assert await cached_items(engine) == {("poll", closed), ("poll", anon)}
    assert await report(engine) == first == await live(engine)
    # The second report reads the stored cells: what is stored is what is shown.
    async with engine.db.transaction() as session:
        await session.execute(
            update(StatsCell)
            .where(StatsCell.kind == "poll", StatsCell.item == closed)
            .values(responses=0)
        )
    item = next(
        i for i in (await report(engine))["items"] if (i["kind"], i["id"]) == ("poll", closed)
    )
    assert item["responses"] == 0


async def test_a_roster_change_and_forget_recount(engine: Engine, big: Org) -> None:
    closed, _, _ = await setup(engine, big)
    before = await report(engine)
    async with engine.db.transaction() as session:
        keys = ("emp0", "emp1", "emp2", "emp3", "emp5")
        moved = update(Person).where(Person.id.in_([big.people[k].id for k in keys]))
        await session.execute(moved.values(department="Nieuw"))
    after = await report(engine)
    assert after != before and after == await live(engine)
    item = next(i for i in after["items"] if (i["kind"], i["id"]) == ("poll", closed))
    assert ("Nieuw", 5, 5) in [(g["group"], g["reach"], g["responses"])
                               for g in item["by_department"]["groups"]]  # fmt: skip
    async with engine.db.transaction() as session:
        gone = big.people["emp6"].id
        await session.execute(delete(OutboxMessage).where(OutboxMessage.person_id == gone))
        await session.execute(
            update(Person).where(Person.id == gone).values(department=None, forgotten_at=START)
        )
    assert await report(engine) == await live(engine)


async def test_unsettled_messages_and_late_receipts(engine: Engine, big: Org) -> None:
    closed, _, _ = await setup(engine, big)
    prompt = {"choices": [["Ja", f"poll:{closed}:1"]], "multiple": False}
    async with engine.db.transaction() as session:
        stray = Person(name="Later", email="later@example.org", department="Kantoor")
        other = Person(name="Mislukt", email="failed@example.org", department="Kantoor")
        session.add_all([stray, other])
        await session.flush()
        row = outbox_row("slack", "x", stray.id, Outgoing("Herinnering"), now=START)
        pending = OutboxMessage(**row, prompt=prompt, status="pending")
        row = outbox_row("slack", "y", other.id, Outgoing("Herinnering"), now=START)
        failed = OutboxMessage(**row, prompt=prompt, status="failed")
        session.add_all([pending, failed])
    first = await report(engine)
    # A message still on its way: the poll is counted live, not stored.
    assert ("poll", closed) not in await cached_items(engine)
    async with engine.db.transaction() as session:
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id == pending.id).values(status="sent")
        )
    second = await report(engine)
    reach = polls(second)
    assert reach[closed] == 1 + polls(first)[closed]
    assert ("poll", closed) in await cached_items(engine)
    # A failed message a platform reports delivered after all.
    async with engine.db.transaction() as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == failed.id)
            .values(delivery_status="delivered", delivery_updated_at=START)
        )
    third = await report(engine)
    assert third == await live(engine)
    assert polls(third)[closed] == reach[closed] + 1


async def test_two_stores_of_one_item_count_once(engine: Engine, big: Org) -> None:
    await setup(engine, big)
    first = await report(engine)
    async with engine.db.transaction() as session:
        rows = list((await session.execute(select(StatsCell))).scalars())
        for r in rows:  # another report stored the same figures at the same time
            names = ("kind", "item", "channel", "department", "location", "reach", "responses")
            cols = {c: getattr(r, c) for c in (*names, "stamp")}
            session.add(StatsCell(**cols, batch="f" * 32))
    async with engine.db.transaction(read_only=True) as session:
        assert await session.scalar(select(func.count()).select_from(StatsCell)) == 2 * len(rows)
    assert await report(engine) == first
