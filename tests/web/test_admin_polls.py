"""Polls on the dashboard: create, results with chart and breakdowns, close early, CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from bot.config import Settings
from bot.engine import Engine
from bot.web.queries import Group, suppress
from storage.models import OutboxMessage, Person, Poll
from tests.e2e.support import client_for, log_in
from tests.support.org import Org
from tests.support.polls import create_poll


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    async with client_for(settings) as client:
        yield client


async def _polls(engine: Engine) -> list[Poll]:
    async with engine.db.transaction(read_only=True) as session:
        return list((await session.execute(select(Poll).order_by(Poll.id))).scalars())


async def test_create_a_poll_from_the_dashboard(
    client: TestClient, engine: Engine, org: Org
) -> None:
    csrf = await log_in(client, engine, org.people["olga"])
    form = await client.get("/admin/polls/new")
    assert form.status == 200 and "Productie" in await form.text()
    response = await client.post(
        "/admin/polls",
        data={
            "csrf": csrf,
            "question": "Nieuwe koffieautomaat?",
            "options": "Ja\n\nNee\n  Maakt niet uit  ",
            "anonymous": "1",
            "audience": "department=Productie",
            "closes": "2099-01-01T12:00",
        },
        allow_redirects=False,
    )
    assert response.status == 303
    (poll,) = await _polls(engine)
    assert response.headers["Location"] == f"/admin/polls/{poll.id}"
    assert poll.status == "open" and poll.anonymous and not poll.multiple
    assert poll.audience == {"department": "Productie"} and poll.audience_size == 4
    assert poll.created_by == org.people["olga"].id
    assert poll.closes_at is not None and poll.closes_at.year == 2099
    async with engine.db.transaction(read_only=True) as session:
        sent = select(func.count()).select_from(OutboxMessage)
        assert (await session.execute(sent)).scalar_one() == 4  # the four in Productie
    detail = await (await client.get(response.headers["Location"])).text()
    assert "Nieuwe koffieautomaat?" in detail and "Maakt niet uit" in detail


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"question": "", "options": "a\nb"}, "Typ een vraag"),
        ({"question": "Q", "options": "alleen"}, "Geef 2 tot 10"),
        ({"question": "Q", "options": "a\nA"}, "moeten verschillen"),
        ({"question": "Q", "options": "a\nb", "closes": "2001-01-01T10:00"}, "in de toekomst"),
        ({"question": "Q", "options": "a\nb", "audience": "department=Nergens"}, "Niemand"),
        ({"question": "Q", "options": "a\nb", "audience": "bogus"}, "Niemand"),
    ],
)
async def test_a_wrong_form_creates_nothing_and_says_why(
    client: TestClient, engine: Engine, org: Org, fields: dict[str, str], error: str
) -> None:
    csrf = await log_in(client, engine, org.people["olga"])
    response = await client.post("/admin/polls", data={"csrf": csrf, **fields})
    assert response.status == 400
    html = await response.text()
    assert error in html and 'role="alert"' in html and 'aria-invalid="true"' in html
    assert await _polls(engine) == []


async def _add_people(engine: Engine, department: str, n: int) -> list[str]:
    keys = []
    async with engine.db.transaction() as session:
        for i in range(n):
            key = f"{department.lower()}{i}"
            session.add(Person(name=key, email=f"{key}@example.org", department=department))
            keys.append(key)
    return keys


async def test_results_chart_breakdowns_and_csv(
    client: TestClient, engine: Engine, org: Org
) -> None:
    extra = await _add_people(engine, "Onderhoud", 6)
    poll_id, _options = await create_poll(engine, ["Ja", "=1+1"], question="Vier dagen werken?")
    for key in ["emp0", "emp1", "emp2", "olga", *extra]:
        await org.engine.handle(org.incoming(key, "1"))
    await org.engine.handle(org.incoming("emp3", "2"))
    await log_in(client, engine, org.people["olga"])
    html = await (await client.get(f"/admin/polls/{poll_id}")).text()
    assert "<svg" in html and 'role="img"' in html
    assert "Ja: 10 stemmen (91%)" in html  # the chart's description for screen readers
    assert ">10 (91%)</text>" in html and ">1 (9%)</text>" in html
    assert "11 van 16 (69%)" in html
    # Onderhoud (6 voters) is shown; Productie, Logistiek, Kantoor (<5 each) are pooled.
    assert "Onderhoud" in html and "overige groepen" in html
    department_table = html.split("Per afdeling")[1].split("</table>")[0]
    assert "Productie" not in department_table and "Kantoor" not in department_table
    # The live part alone, for the page's automatic refresh.
    live = await client.get(f"/admin/polls/{poll_id}/live")
    assert live.status == 200 and "<svg" in await live.text()

    export = await client.get(f"/admin/polls/{poll_id}/results.csv")
    assert export.status == 200 and export.content_type == "text/csv"
    assert "attachment" in export.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(await export.text())))
    assert rows[0] == ["breakdown", "group", "voters", "option", "count"]
    assert ["total", "", "11", "Ja", "10"] in rows
    assert ["total", "", "11", "'=1+1", "1"] in rows  # no formula for a spreadsheet
    assert ["department", "Onderhoud", "6", "Ja", "6"] in rows
    assert ["department", "overige groepen", "5", "Ja", "4"] in rows
    assert not any(r[1] in ("Productie", "Kantoor", "Logistiek") for r in rows[1:])


async def test_anonymous_polls_have_no_breakdown(
    client: TestClient, engine: Engine, org: Org
) -> None:
    extra = await _add_people(engine, "Onderhoud", 6)
    poll_id, _ = await create_poll(engine, ["Ja", "Nee"], anonymous=True)
    for key in extra:
        await org.engine.handle(org.incoming(key, "1"))
    await log_in(client, engine, org.people["olga"])
    html = await (await client.get(f"/admin/polls/{poll_id}")).text()
    assert "6 (100%)" in html and "geen uitsplitsing" in html and "Onderhoud" not in html


async def test_close_early_sends_results(client: TestClient, engine: Engine, org: Org) -> None:
    poll_id, _ = await create_poll(engine, ["Ja", "Nee"])
    csrf = await log_in(client, engine, org.people["olga"])
    response = await client.post(f"/admin/polls/{poll_id}/close", data={"csrf": csrf})
    assert response.status == 200 and "gesloten" in await response.text()
    (poll,) = await _polls(engine)
    assert poll.status == "closed"
    assert "Uitslag peiling" in (await org.last("emp0")).text
    again = await client.post(f"/admin/polls/{poll_id}/close", data={"csrf": csrf})
    assert again.status == 200  # closing twice changes nothing
    assert (await client.get("/admin/polls/999999")).status == 404


async def test_hidden_results_stay_hidden_for_moderators(
    client: TestClient, engine: Engine, org: Org
) -> None:
    poll_id, _ = await create_poll(engine, ["Ja", "Nee"], hide_results=True)
    await org.engine.handle(org.incoming("emp0", "1"))
    await log_in(client, engine, org.people["mo"])
    html = await (await client.get(f"/admin/polls/{poll_id}")).text()
    assert "zichtbaar zodra ze sluit" in html and "<svg" not in html
    assert (await client.get(f"/admin/polls/{poll_id}/results.csv")).status == 403


async def test_polls_list_and_overview(client: TestClient, engine: Engine, org: Org) -> None:
    poll_id, _ = await create_poll(engine, ["Ja", "Nee"], question="Parkeren?")
    await org.engine.handle(org.incoming("emp0", "1"))
    await log_in(client, engine, org.people["olga"])
    listing = await (await client.get("/admin/polls")).text()
    assert "Parkeren?" in listing and "1 van 10 (10%)" in listing
    overview = await (await client.get("/admin")).text()
    assert f"/admin/polls/{poll_id}" in overview and "1 van 10 (10%)" in overview
    assert "Peiling geopend" in overview  # recent activity for the OR


def test_small_groups_cannot_be_worked_out_by_subtraction() -> None:
    def g(name: str, voters: int) -> Group:
        return Group(name, voters, {1: voters})

    shown, other = suppress([g("A", 10), g("B", 3)])
    # B alone would be total minus A: A joins the pool instead.
    assert shown == [] and other is not None and other.voters == 13
    shown, other = suppress([g("A", 10), g("B", 7), g("C", 2), g("D", 1)])
    assert [x.name for x in shown] == ["A"] and other is not None and other.voters == 10
    shown, other = suppress([g("A", 5), g("B", 6)])
    assert [x.name for x in shown] == ["A", "B"] and other is None
    shown, other = suppress([g("A", 2), g("B", 1)])
    assert shown == [] and other is None
