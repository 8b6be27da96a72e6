"""Remarks typed with named votes on the dashboard's poll page (issue 13): for OR members,
without names; an anonymous poll keeps none."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient

from bot.config import Settings
from bot.engine import Engine
from tests.e2e.support import client_for, log_in
from tests.support.org import Org
from tests.support.polls import create_poll


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    async with client_for(settings) as client:
        yield client


async def test_remarks_on_the_poll_page(client: TestClient, engine: Engine, org: Org) -> None:
    named, _ = await create_poll(engine, ["Ja", "Nee"], question="Nieuwe broek?")
    await org.say("emp0", "nee, de broek is te warm")
    await org.say("emp2", "ja")
    await log_in(client, engine, org.people["olga"])
    html = await (await client.get(f"/admin/polls/{named}")).text()
    assert "1 opmerking bij de antwoorden" in html and "de broek is te warm" in html
    assert "Emp0" not in html.split('id="remarks-h"')[1].split("</section>")[0]

    anonymous, _ = await create_poll(engine, ["Ja", "Nee"], question="Anoniem?", anonymous=True)
    await org.say("emp0", "nee, de broek is te warm")
    html = await (await client.get(f"/admin/polls/{anonymous}")).text()
    assert "opmerking" not in html and "broek" not in html
