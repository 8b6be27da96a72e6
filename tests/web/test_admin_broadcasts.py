"""Broadcasts on the dashboard: compose (now or later), validation, progress, cancelling."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.app import new_engine
from bot.config import Settings
from bot.engine import Engine
from bot.scheduler import Scheduler
from bot.web.auth import ADMIN_COOKIE, csrf_token
from storage.broadcast_models import Broadcast
from storage.models import AuditEntry, utcnow
from storage.web import ADMIN, WebSessions
from tests.e2e.support import client_for, log_in
from tests.support.broadcasts import deliver, outbox_rows, recipients, status
from tests.support.org import Org

EVERYONE = 10  # olga, mo and emp0..emp7 (tests/support/org.py)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    async with client_for(settings) as client:
        yield client


async def _broadcasts(engine: Engine) -> list[Broadcast]:
    async with engine.db.transaction(read_only=True) as session:
        stmt = select(Broadcast).order_by(Broadcast.id)
        return list((await session.execute(stmt)).scalars())


def _amsterdam(delta: timedelta, settings: Settings) -> str:
    """A datetime-local value, as a browser in the Netherlands sends it."""
    local = (utcnow() + delta).astimezone(ZoneInfo(settings.timezone))
    return local.replace(tzinfo=None).isoformat(timespec="minutes")


def _form(csrf: str, **fields: str) -> dict[str, str]:
    return {"csrf": csrf, "text": "Vergadering verzet naar donderdag.", "when": "now", **fields}


async def test_compose_sends_to_the_audience(client: TestClient, engine: Engine, org: Org) -> None:
    csrf = await log_in(client, engine, org.people["olga"])
    page = await client.get("/admin/broadcasts")
    assert page.status == 200 and 'aria-current="page"' in await page.text()

    response = await client.post(
        "/admin/broadcasts", data=_form(csrf, audience="department=Productie", acknowledge="1")
    )
    assert response.status == 200
    (broadcast,) = await _broadcasts(engine)
    assert response.url.path == f"/admin/broadcasts/{broadcast.id}"
    assert broadcast.status == "sent" and broadcast.acknowledge
    assert broadcast.audience == {"department": "Productie"}
    assert broadcast.created_by == org.people["olga"].id
    productie = {org.people[f"emp{i}"].id for i in (0, 2, 4, 6)}
    assert {r.person_id for r in await recipients(engine, broadcast.id)} == productie
    queued = await outbox_rows(engine)
    assert {m.person_id for m in queued} == productie
    assert "Vergadering verzet" in (await org.last("emp0")).text
    assert await org.outbox("emp1") == []  # Logistiek: not theirs

    html = await response.text()
    assert re.search(r'<progress id="broadcast-progress" max="4" value="0">', html)
    assert '<label for="broadcast-progress">' in html
    assert "/cancel" in html  # not sent out yet: it can still be cancelled

    await deliver(engine, "console")
    figures = await status(engine, broadcast.id)
    assert figures.sent == 4 and figures.done
    html = await (await client.get(f"/admin/broadcasts/{broadcast.id}")).text()
    assert 'max="4" value="4"' in html and "/cancel" not in html
    listing = await (await client.get("/admin/broadcasts")).text()
    assert f'href="/admin/broadcasts/{broadcast.id}"' in listing and "4 / 0 / 0 / 0" in listing
    async with engine.db.transaction(read_only=True) as session:
        actions = set((await session.execute(select(AuditEntry.action))).scalars())
    assert {"broadcast.created", "broadcast.started", "broadcast.queued"} <= actions


async def test_a_scheduled_broadcast_waits_for_its_time(
    client: TestClient, engine: Engine, org: Org, settings: Settings
) -> None:
    csrf = await log_in(client, engine, org.people["olga"])
    at = _amsterdam(timedelta(hours=3), settings)
    response = await client.post("/admin/broadcasts", data=_form(csrf, when="at", at=at))
    assert response.status == 200
    (broadcast,) = await _broadcasts(engine)
    local = broadcast.scheduled_at.astimezone(ZoneInfo(settings.timezone))
    assert local.replace(tzinfo=None) == datetime.fromisoformat(at)
    assert broadcast.status == "scheduled"

    await Scheduler(engine).tick()  # now: too early
    assert (await _broadcasts(engine))[0].status == "scheduled"
    assert await recipients(engine, broadcast.id) == [] and await outbox_rows(engine) == []

    later = new_engine(engine.db, settings, clock=lambda: utcnow() + timedelta(hours=3, minutes=1))
    await Scheduler(later).tick()
    assert (await _broadcasts(engine))[0].status == "sent"
    assert len(await recipients(engine, broadcast.id)) == EVERYONE


async def test_cancel_withdraws_what_was_not_sent(
    client: TestClient, engine: Engine, org: Org
) -> None:
    csrf = await log_in(client, engine, org.people["olga"])
    await client.post("/admin/broadcasts", data=_form(csrf))
    (broadcast,) = await _broadcasts(engine)
    assert len(await outbox_rows(engine)) == EVERYONE  # queued, no worker ran

    cancelled = await client.post(f"/admin/broadcasts/{broadcast.id}/cancel", data={"csrf": csrf})
    assert cancelled.status == 200
    assert f"{EVERYONE} " in await cancelled.text()  # "10 unsent messages withdrawn"
    (broadcast,) = await _broadcasts(engine)
    assert broadcast.status == "cancelled"
    assert await outbox_rows(engine) == []
    assert (await status(engine, broadcast.id)).cancelled == EVERYONE
    assert (await deliver(engine, "console"))["console"].sent == []

    again = await client.post(f"/admin/broadcasts/{broadcast.id}/cancel", data={"csrf": csrf})
    assert again.status == 200 and "al geannuleerd" in await again.text()
    missing = await client.post("/admin/broadcasts/999999/cancel", data={"csrf": csrf})
    assert missing.status == 404


async def test_invalid_forms_create_nothing(
    client: TestClient, engine: Engine, org: Org, settings: Settings
) -> None:
    csrf = await log_in(client, engine, org.people["olga"])
    cases = [
        (_form(csrf, text="   "), "1 tot 1500 tekens"),
        (_form(csrf, text="x" * 1501), "1 tot 1500 tekens"),
        (_form(csrf, channel="fax"), "bekend kanaal"),
        (_form(csrf, audience="team=A"), "een afdeling of een locatie"),
        (_form(csrf, audience="department=Niemand"), "Niemand op de lijst"),
        (_form(csrf, channel="slack"), "Niemand op de lijst"),  # nobody has a Slack account
        (_form(csrf, when="at", at="morgen"), "Kies een datum en tijd"),
        (_form(csrf, when="at", at=_amsterdam(timedelta(hours=-2), settings)), "verleden"),
    ]
    for form, message in cases:
        response = await client.post("/admin/broadcasts", data=form)
        html = await response.text()
        assert response.status == 400, form
        assert message in html and 'aria-invalid="true"' in html, form
    assert await _broadcasts(engine) == []
    assert await outbox_rows(engine) == []


async def test_without_csrf_or_role_nothing_happens(
    client: TestClient, engine: Engine, org: Org, settings: Settings
) -> None:
    csrf = await log_in(client, engine, org.people["olga"])
    assert (await client.post("/admin/broadcasts", data=_form(""))).status == 403
    assert (await client.post("/admin/broadcasts", data=_form("0" * 64))).status == 403
    assert await _broadcasts(engine) == []
    await client.post("/admin/broadcasts", data=_form(csrf, when="at", at="2999-01-01T09:00"))
    (broadcast,) = await _broadcasts(engine)
    forged = await client.post(f"/admin/broadcasts/{broadcast.id}/cancel", data={})
    assert forged.status == 403
    assert (await _broadcasts(engine))[0].status == "scheduled"

    for key in ("emp0", "mo"):  # a constituent, a moderator: not the OR
        client.session.cookie_jar.clear()
        async with engine.db.transaction() as session:  # constituents cannot log in at all
            token = await WebSessions(session).open(
                org.people[key].id, ADMIN, now=utcnow(), ttl=timedelta(hours=1)
            )
        client.session.cookie_jar.update_cookies({ADMIN_COOKIE: token})
        csrf = csrf_token(settings, token)
        for path in ("/admin/broadcasts", f"/admin/broadcasts/{broadcast.id}"):
            assert (await client.get(path)).status == 403, (key, path)
        assert (await client.post("/admin/broadcasts", data=_form(csrf))).status == 403
        cancel = await client.post(f"/admin/broadcasts/{broadcast.id}/cancel", data={"csrf": csrf})
        assert cancel.status == 403
    assert [b.status for b in await _broadcasts(engine)] == ["scheduled"]


async def test_script_in_the_text_is_shown_as_text(
    client: TestClient, engine: Engine, org: Org
) -> None:
    csrf = await log_in(client, engine, org.people["olga"])
    evil = "<script>alert('x')</script>"
    await client.post("/admin/broadcasts", data=_form(csrf, text=f"Let op {evil}"))
    (broadcast,) = await _broadcasts(engine)
    await org.say("emp3", f"Goed plan {evil}")  # a typed reply to the broadcast
    for path in ("/admin/broadcasts", f"/admin/broadcasts/{broadcast.id}"):
        html = await (await client.get(path)).text()
        assert "<script>alert" not in html, path
        assert "&lt;script&gt;alert(" in html, path
    detail = await (await client.get(f"/admin/broadcasts/{broadcast.id}")).text()
    assert "Goed plan &lt;script&gt;" in detail and "Emp3" in detail
    bad = await client.post("/admin/broadcasts", data=_form(csrf, text=evil * 200))
    assert bad.status == 400 and "<script>alert" not in await bad.text()
