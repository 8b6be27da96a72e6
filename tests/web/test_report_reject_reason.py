"""The dashboard follows the report use case's rules: a rejection needs a reason (the chat
always asked for one; the dashboard used to reject without), and an over-long reason is
refused rather than cut off."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient

from bot.config import Settings
from bot.engine import Engine
from bot.usecases import reports
from storage.models import Report
from storage.reports import NAMED
from tests.e2e.support import client_for, log_in
from tests.support.org import Org
from tests.support.usecases import run


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    async with client_for(settings) as client:
        yield client


async def test_reject_without_reason_is_refused(
    client: TestClient, engine: Engine, org: Org
) -> None:
    submitted = await run(
        engine,
        lambda s: reports.submit(
            s, reporter_id=org.people["emp0"].id, privacy=NAMED, description="Losse tegel",
            location="Hal 1", recognisable=None, consent=None, photos=[],
        ),
    )  # fmt: skip
    report_id = submitted.report.id
    csrf = await log_in(client, engine, org.people["mo"])
    url = f"/admin/reports/{report_id}/status"
    for reason in ("", "x" * (reports.MAX_REASON + 1)):
        page = await client.post(url, data={"csrf": csrf, "status": "rejected", "reason": reason})
        assert "toelichting voor de melder (hoogstens" in (await page.text()).lower()
    async with engine.db.transaction(read_only=True) as session:
        report = await session.get(Report, report_id)
        assert report is not None and report.status == "new"
    done = await client.post(url, data={"csrf": csrf, "status": "rejected", "reason": "Dubbel"})
    assert "Dubbel" in await done.text()
