"""The dashboard speaks the visitor's language (issue 13, texts): audit entries, subjects,
details and channel names are words from the catalogues, never codes such as
'report.submitted', 'console: 40' or 'via=cli'; dates have one format per language; no page
tells an OR member to run a command line."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from sqlalchemy import update

from bot.config import Settings
from bot.engine import Engine
from bot.usecases import broadcasts
from bot.web.render import format_when
from storage.audit import audit
from storage.broadcast_models import BroadcastRecipient
from storage.broadcasts import UNREACHABLE
from storage.models import Person
from tests.e2e.support import client_for, log_in, login_link, set_roles
from tests.support.org import Org

# A command line to type: 'achterban' followed by one of the CLI's command groups.
CLI_HINT = re.compile(
    r"achterban (admin|broadcast|question|nominations?|poll|report|people|web|survey|roster)\b"
)
PAGES = (
    "/admin",
    "/admin/polls",
    "/admin/polls/new",
    "/admin/questions",
    "/admin/reports",
    "/admin/nominations",
    "/admin/broadcasts",
    "/admin/people",
    "/admin/audit",
)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    async with client_for(settings) as client:
        yield client


async def _log_in(client: TestClient, engine: Engine, org: Org, lang: str = "nl") -> None:
    olga = org.people["olga"]
    await set_roles(engine, olga, {"or_member", "admin", "moderator"})
    async with engine.db.transaction() as session:
        await session.execute(update(Person).where(Person.id == olga.id).values(language=lang))
    olga.language = lang
    await log_in(client, engine, olga)


async def _entry(engine: Engine, org: Org) -> None:
    async with engine.db.transaction() as session:
        await audit(
            session,
            "poll.opened",
            actor_id=org.people["olga"].id,
            subject="poll:7",
            via="cli",
            audience=40,
        )


async def test_audit_log_in_words(client: TestClient, engine: Engine, org: Org) -> None:
    await _entry(engine, org)
    await _log_in(client, engine, org)
    html = await (await client.get("/admin/audit")).text()
    assert "Peiling geopend" in html and "Peiling 7" in html
    assert "via: opdrachtregel" in html and "ontvangers: 40" in html
    assert "Ingelogd op het dashboard" in html
    for code in ("poll.opened", "web.login", "poll:7", "via=cli", "audience="):
        assert code not in html, code


async def test_audit_log_in_english(client: TestClient, engine: Engine, org: Org) -> None:
    await _entry(engine, org)
    await _log_in(client, engine, org, "en")
    html = await (await client.get("/admin/audit")).text()
    assert "Poll opened" in html and "Poll 7" in html and "via: command line" in html
    overview = await (await client.get("/admin")).text()
    assert "Poll opened" in overview and "poll.opened" not in overview


async def test_channel_names_on_the_overview(client: TestClient, engine: Engine, org: Org) -> None:
    await org.say("emp0", "menu")  # a console account
    await _log_in(client, engine, org)
    html = await (await client.get("/admin")).text()
    assert "testconsole: " in html and "console: " not in html.replace("testconsole: ", "")


async def test_no_command_line_instructions_on_the_dashboard(
    client: TestClient, engine: Engine, org: Org
) -> None:
    login = await (await client.get("/admin/login")).text()
    assert not CLI_HINT.search(login), CLI_HINT.search(login)
    await _log_in(client, engine, org)
    for path in PAGES:
        response = await client.get(path)
        html = await response.text()
        assert response.status == 200, path
        assert not CLI_HINT.search(html), (path, CLI_HINT.search(html))


def test_one_date_format_per_language() -> None:
    amsterdam = ZoneInfo("Europe/Amsterdam")
    moment = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
    assert format_when(moment, "nl", amsterdam) == "4 dec 2026 17:00"
    assert format_when(moment, "en", amsterdam) == "4 Dec 2026 17:00"
    summer = datetime(2026, 7, 4, 16, 0, tzinfo=UTC)  # daylight saving time: +2
    assert format_when(summer, "nl", amsterdam) == "4 jul 2026 18:00"
    assert format_when(date(2026, 3, 1), "nl", amsterdam) == "1 mrt 2026"
    assert format_when(date(2026, 3, 1), "en", amsterdam) == "1 Mar 2026"


async def test_login_page_greets_by_first_name(
    client: TestClient, engine: Engine, org: Org
) -> None:
    """'Welkom, Olga de Boer' read like a letter from the tax office: first names only."""
    olga = org.people["olga"]
    await set_roles(engine, olga, {"or_member"})
    async with engine.db.transaction() as session:
        await session.execute(
            update(Person).where(Person.id == olga.id).values(name="Olga de Boer")
        )
    olga.name = "Olga de Boer"
    html = await (await client.get(await login_link(engine, olga))).text()
    assert "Welkom, Olga" in html and "de Boer" not in html


async def test_unreachable_reasons_in_words(client: TestClient, engine: Engine, org: Org) -> None:
    await org.say("emp0", "hallo")
    actor = broadcasts.Actor(org.people["olga"].id, frozenset({"or_member"}))
    async with engine.db.transaction() as session:
        saved = await broadcasts.create(engine.services(session), broadcasts.Draft("Nieuws"), actor)
        # As the queue records someone it has no channel for (storage/broadcast_queue.py).
        nobody = Person(name="Zonder Kanaal", language="nl")
        session.add(nobody)
        await session.flush()
        session.add(
            BroadcastRecipient(
                broadcast_id=saved.id,
                person_id=nobody.id,
                state=UNREACHABLE,
                reason="no_channel",
            )
        )
    await _log_in(client, engine, org)
    html = await (await client.get(f"/admin/broadcasts/{saved.id}")).text()
    assert "geen kanaal waarop we deze persoon bereiken" in html and "no_channel" not in html


async def test_roster_errors_in_the_visitors_language(
    client: TestClient, engine: Engine, org: Org
) -> None:
    """The staff list's errors were English on a Dutch dashboard."""
    await _log_in(client, engine, org)
    page = await (await client.get("/admin/people")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    form = FormData()
    form.add_field("csrf", csrf.group(1))
    bad = "name,email,phone,department,location,language,roles\nChris,not-an-email,,,,xx,boss\n"
    form.add_field("roster", bad.encode(), filename="roster.csv", content_type="text/csv")
    html = await (await client.post("/admin/people/roster", data=form)).text()
    assert "ongeldig e-mailadres &#39;not-an-email&#39;" in html or "ongeldig e-mailadres" in html
    assert "onbekende rol boss" in html and "taal moet een van deze zijn" in html
    assert "invalid email" not in html and "role(s)" not in html
