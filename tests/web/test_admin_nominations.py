"""Opening and closing a nomination campaign on the dashboard."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.config import Settings
from bot.engine import Engine
from storage.models import AuditEntry, NominationCampaign, utcnow
from tests.e2e.support import client_for, log_in
from tests.support.org import Org


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    async with client_for(settings) as client:
        yield client


async def _campaigns(engine: Engine) -> list[NominationCampaign]:
    async with engine.db.transaction(read_only=True) as session:
        return list((await session.execute(select(NominationCampaign))).scalars())


def _local(delta: timedelta) -> str:
    return (utcnow() + delta).astimezone().replace(tzinfo=None).isoformat(timespec="minutes")


async def test_open_validate_and_close(
    client: TestClient, engine: Engine, org: Org, settings: Settings
) -> None:
    csrf = await log_in(client, engine, org.people["olga"])
    good = {"csrf": csrf, "title": "OR-verkiezing 2027", "closes": _local(timedelta(days=7))}
    bad_cases = [
        {**good, "title": ""},
        {**good, "title": "x" * 201},
        {**good, "closes": _local(timedelta(days=-1))},
        {**good, "closes": "morgen"},
        {**good, "max": "0"},
        {**good, "max": "51"},
        {**good, "max": "-3"},
    ]
    for form in bad_cases:
        response = await client.post("/admin/nominations", data=form)
        assert response.status == 400 and 'aria-invalid="true"' in await response.text(), form
    assert await _campaigns(engine) == []
    assert (await client.post("/admin/nominations", data={**good, "csrf": ""})).status == 403

    opened = await client.post("/admin/nominations", data={**good, "max": "3", "anonymous": "1"})
    assert opened.status == 200 and "OR-verkiezing 2027" in await opened.text()
    (campaign,) = await _campaigns(engine)
    assert campaign.status == "open" and campaign.anonymous and campaign.max_per_person == 3
    assert campaign.created_by == org.people["olga"].id
    assert "OR-verkiezing 2027" in (await org.last("emp3")).text  # everyone was told

    closed = await client.post(f"/admin/nominations/{campaign.id}/close", data={"csrf": csrf})
    assert closed.status == 200
    (campaign,) = await _campaigns(engine)
    assert campaign.status == "closed"
    again = await client.post(f"/admin/nominations/{campaign.id}/close", data={"csrf": csrf})
    assert again.status == 200 and "al gesloten" in await again.text()
    async with engine.db.transaction(read_only=True) as session:
        actions = set((await session.execute(select(AuditEntry.action))).scalars())
    assert {"campaign.opened", "campaign.closed"} <= actions


async def test_only_or_members(client: TestClient, engine: Engine, org: Org) -> None:
    csrf = await log_in(client, engine, org.people["mo"])  # a moderator, not in the OR
    form = {"csrf": csrf, "title": "X", "closes": _local(timedelta(days=2))}
    assert (await client.post("/admin/nominations", data=form)).status == 403
    assert await _campaigns(engine) == []
