"""A name-hidden report names nobody (issue 11, finding 3).

"Anoniem (naam verborgen)" keeps the reporter on the report only to tell them the outcome
(storage/models.py Report): no page, audit line or export shows the name, to OR members or
moderators. A named reporter is shown where the report itself shows them: to moderators.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import typer
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from bot.cli.report import report_app
from bot.config import Settings
from bot.engine import Engine
from storage.audit import audit
from storage.models import AuditEntry, Report
from tests.e2e.support import client_for, log_in, set_roles
from tests.support.org import Org

HIDDEN_LABEL = "melder (naam verborgen)"


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    async with client_for(settings) as client:
        yield client


async def _report(org: Org, key: str, what: str, privacy: str) -> int:
    for line in ["melding", "Geen foto", what, "Kantine", privacy, "Versturen"]:
        await org.say(key, line)
    async with org.engine.db.transaction(read_only=True) as session:  # ids are random
        return int(
            (
                await session.execute(select(Report.id).where(Report.description == what))
            ).scalar_one()
        )


async def _pages(client: TestClient, report_id: int) -> dict[str, str]:
    paths = ["/admin", "/admin/audit", "/admin/reports", f"/admin/reports/{report_id}"]
    out = {}
    for path in paths:
        response = await client.get(path)
        assert response.status == 200, path
        out[path] = await response.text()
    return out


def _export(settings: Settings, *args: str) -> str:
    env = {"ACHTERBAN_DATABASE_URL": settings.db_url, "ACHTERBAN_DATA_DIR": str(settings.data_dir)}
    cli = typer.Typer()
    cli.add_typer(report_app, name="report")
    result = CliRunner().invoke(cli, ["report", *args], env=env)
    assert result.exit_code == 0, result.output
    return str(result.stdout)


async def test_a_name_hidden_reporter_is_named_nowhere(
    client: TestClient, engine: Engine, org: Org, settings: Settings
) -> None:
    hidden = await _report(org, "emp3", "Natte vloer", "Anoniem (naam verborgen)")
    named = await _report(org, "emp5", "Losse kabel", "Met naam")
    async with engine.db.transaction() as session:
        stmt = select(AuditEntry).where(AuditEntry.subject == f"report:{hidden}")
        [logged] = (await session.execute(stmt)).scalars().all()
        assert logged.actor_id is None  # logged without a name from now on
        # As every hidden report was logged before: under the reporter's name.
        await audit(
            session,
            "report.submitted",
            actor_id=org.people["emp3"].id,
            subject=f"report:{hidden}",
        )
    await org.say("mo", choice=f"rm:{hidden}:publish")  # OR members may now open it

    # An OR member: neither reporter's name, on any page.
    await log_in(client, engine, org.people["olga"])
    for path, html in (await _pages(client, hidden)).items():
        assert "Emp3" not in html and "Emp5" not in html, path
    audit_page = await (await client.get("/admin/audit")).text()
    assert audit_page.count(HIDDEN_LABEL) == 3
    assert f"Melding {named}" in audit_page

    # A moderator who is also on the OR: the named reporter, never the hidden one.
    await set_roles(engine, org.people["olga"], {"or_member", "moderator"})
    pages = await _pages(client, hidden)
    for path, html in pages.items():
        assert "Emp3" not in html, path
    assert "Emp5" in pages["/admin/audit"] and pages["/admin/audit"].count(HIDDEN_LABEL) == 2
    named_page = await (await client.get(f"/admin/reports/{named}")).text()
    assert "Emp5" in named_page

    # Exports (the moderators' CLI) do not name the hidden reporter either.
    shown = await asyncio.to_thread(_export, settings, "show", str(hidden), "--format", "json")
    listed = await asyncio.to_thread(_export, settings, "list", "--format", "json")
    assert json.loads(shown)["reporter"] is None
    assert "Emp3" not in shown and "Emp3" not in listed and "emp3@" not in shown + listed
