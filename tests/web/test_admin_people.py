"""People on the dashboard: roster upload (all or nothing), roles, invitations, audit log."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from bot.config import Settings
from bot.engine import Engine
from storage.models import AuditEntry, Person, Role
from tests.e2e.support import client_for, log_in, path_of, set_roles
from tests.support.org import Org

HEADER = "name,email,phone,department,location,language,roles\n"
GOOD = HEADER + (
    "Anna de Vries,anna@example.org,+31 6 1234 5678,Productie,Eindhoven,nl,or_member\n"
    "Bob Jansen,bob@example.org,,Logistiek,Tilburg,en,\n"
)
BAD = GOOD + "Chris,not-an-email,,Kantoor,Tilburg,nl,\nDirk,dirk@example.org,,,,xx,\n"


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    async with client_for(settings) as client:
        yield client


@pytest.fixture
async def admin_csrf(client: TestClient, engine: Engine, org: Org) -> str:
    await set_roles(engine, org.people["olga"], {"or_member", "admin"})
    return await log_in(client, engine, org.people["olga"])


def _upload(csrf: str, content: bytes) -> FormData:
    form = FormData()
    form.add_field("csrf", csrf)  # first, as the page's form sends it
    form.add_field("roster", content, filename="roster.csv", content_type="text/csv")
    return form


async def _count_people(engine: Engine) -> int:
    async with engine.db.transaction(read_only=True) as session:
        return int((await session.execute(select(func.count()).select_from(Person))).scalar_one())


async def test_roster_upload_imports_and_is_audited(
    client: TestClient, engine: Engine, org: Org, admin_csrf: str
) -> None:
    before = await _count_people(engine)
    response = await client.post("/admin/people/roster", data=_upload(admin_csrf, GOOD.encode()))
    html = await response.text()
    assert response.status == 200 and "2 nieuw, 0 bijgewerkt" in html
    assert await _count_people(engine) == before + 2
    assert "Anna de Vries" in html
    async with engine.db.transaction(read_only=True) as session:
        actions = (await session.execute(select(AuditEntry.action))).scalars().all()
    assert "roster.uploaded" in actions


async def test_a_bad_line_imports_nothing_and_is_named(
    client: TestClient, engine: Engine, org: Org, admin_csrf: str
) -> None:
    before = await _count_people(engine)
    response = await client.post("/admin/people/roster", data=_upload(admin_csrf, BAD.encode()))
    html = await response.text()
    assert response.status == 400
    assert "Regel 4:" in html and "not-an-email" in html and "Regel 5:" in html
    assert "Er is niets geïmporteerd: 2 regels" in html
    assert await _count_people(engine) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "Kies een CSV-bestand"),
        ("name;email\n\xe9".encode("latin-1"), "geen UTF-8"),
        (b"x" * (10 * 1024 * 1024 + 1), "te groot"),
    ],
)
async def test_unusable_files_are_refused(
    client: TestClient, engine: Engine, org: Org, admin_csrf: str, content: bytes, message: str
) -> None:
    before = await _count_people(engine)
    response = await client.post("/admin/people/roster", data=_upload(admin_csrf, content))
    assert response.status == 400 and message in await response.text()
    assert await _count_people(engine) == before


async def test_roles_are_set_by_an_admin(
    client: TestClient, engine: Engine, org: Org, admin_csrf: str
) -> None:
    emp = org.people["emp0"]
    page = await client.get(f"/admin/people/{emp.id}")
    assert page.status == 200 and 'id="role_moderator"' in await page.text()
    response = await client.post(
        f"/admin/people/{emp.id}/roles", data={"csrf": admin_csrf, "role_moderator": "1"}
    )
    assert response.status == 200 and "opgeslagen" in await response.text()
    async with engine.db.transaction(read_only=True) as session:
        roles = await session.execute(select(Role.role).where(Role.person_id == emp.id))
        assert set(roles.scalars()) == {"moderator"}
        entry = (
            await session.execute(select(AuditEntry).where(AuditEntry.action == "roles.changed"))
        ).scalar_one()
    assert entry.details == {"added": ["moderator"], "removed": []}
    assert entry.actor_id == org.people["olga"].id


async def test_an_admin_cannot_remove_their_own_admin_role(
    client: TestClient, engine: Engine, org: Org, admin_csrf: str
) -> None:
    olga = org.people["olga"]
    response = await client.post(
        f"/admin/people/{olga.id}/roles", data={"csrf": admin_csrf, "role_or_member": "1"}
    )
    assert "beheerdersrol niet afnemen" in await response.text()
    async with engine.db.transaction(read_only=True) as session:
        roles = await session.execute(select(Role.role).where(Role.person_id == olga.id))
        assert set(roles.scalars()) == {"or_member", "admin"}


async def test_search_and_invitation(
    client: TestClient, engine: Engine, org: Org, admin_csrf: str
) -> None:
    found = await (await client.get("/admin/people?q=logist")).text()
    assert "Emp1" in found and "Emp0" not in found
    emp = org.people["emp1"]
    response = await client.post(f"/admin/people/{emp.id}/invite", data={"csrf": admin_csrf})
    html = await response.text()
    assert response.status == 200 and "/chat/join/" in html
    url = html.split('class="url"><a href="')[1].split('"')[0]
    assert url.startswith("http://127.0.0.1:8080/chat/join/")
    landing = await client.get(path_of(url))
    assert landing.status == 200 and "Emp1" in await landing.text()


async def test_audit_log_page(
    client: TestClient, engine: Engine, org: Org, admin_csrf: str
) -> None:
    html = await (await client.get("/admin/audit")).text()
    assert "Ingelogd op het dashboard" in html and "Olga" in html
