"""The dashboard's question page with its themes, and "Wat doet de OR ermee?" under a closed
poll and question (bot/web/followup_views.py), on both backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import pytest
from aiohttp.test_utils import TestClient

from bot.config import Settings
from bot.engine import Engine
from bot.usecases import questions as question_cases
from storage.models import OpenAnswer
from storage.people import Audience
from tests.e2e.support import client_for, log_in
from tests.support.org import Org
from tests.test_themes import CANTEEN, ODD, PAY
from tests.usecases.test_followups import TEXT, _followup_rows, _poll


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    async with client_for(settings) as client:
        yield client


async def test_poll_follow_up_form_send_and_reach(
    client: TestClient, engine: Engine, org: Org
) -> None:
    open_id = await _poll(engine, org, close=False)
    closed_id = await _poll(engine, org)
    csrf = await log_in(client, engine, org.people["olga"])
    page = await (await client.get(f"/admin/polls/{open_id}")).text()
    assert "Wat doet de OR ermee?" in page and "Na het sluiten" in page
    assert f"/admin/polls/{open_id}/follow-up" not in page  # no form before closing
    refused = await client.post(
        f"/admin/polls/{open_id}/follow-up", data={"csrf": csrf, "text": TEXT}
    )
    assert "Eerst sluiten" in await refused.text()
    page = await (await client.get(f"/admin/polls/{closed_id}")).text()
    assert f'action="/admin/polls/{closed_id}/follow-up"' in page
    empty = await client.post(
        f"/admin/polls/{closed_id}/follow-up", data={"csrf": csrf, "text": " "}
    )
    assert "Schrijf 1 tot 1000 tekens." in await empty.text()
    no_csrf = await client.post(f"/admin/polls/{closed_id}/follow-up", data={"text": TEXT})
    assert no_csrf.status == 403
    assert await _followup_rows(engine) == {}
    sent = await client.post(
        f"/admin/polls/{closed_id}/follow-up", data={"csrf": csrf, "text": TEXT}
    )
    html = await sent.text()
    assert sent.status == 200 and "Verstuurd naar iedereen in de doelgroep" in html
    assert TEXT in html and f"In de doelgroep: {len(org.people)}" in html
    assert "/admin/broadcasts/" in html and f'/admin/polls/{closed_id}/follow-up"' not in html
    rows = await _followup_rows(engine)
    assert len(rows) == len(org.people) and all("Bon: 2" in r["text"] for r in rows.values())


async def test_a_moderator_may_not_send_one(client: TestClient, engine: Engine, org: Org) -> None:
    closed_id = await _poll(engine, org)
    csrf = await log_in(client, engine, org.people["mo"])
    page = await (await client.get(f"/admin/polls/{closed_id}")).text()
    assert "follow-up" not in page  # no form for who may not use it
    refused = await client.post(
        f"/admin/polls/{closed_id}/follow-up", data={"csrf": csrf, "text": TEXT}
    )
    assert refused.status == 403 and await _followup_rows(engine) == {}


async def test_question_page_shows_themes_and_follow_up(
    client: TestClient, engine: Engine, org: Org
) -> None:
    async with engine.db.transaction() as session:
        opened = await question_cases.create(
            engine.services(session), text="Wat moet beter?", anonymous=True,
            audience=Audience(), closes_at=None, created_by=org.people["olga"].id,
        )  # fmt: skip
        question_id = opened.question.id
        for text in PAY + CANTEEN + ODD:
            session.add(
                OpenAnswer(question_id=question_id, person_id=None, text=text,
                           answered_on=date.today())
            )  # fmt: skip
    csrf = await log_in(client, engine, org.people["olga"])
    html = await (await client.get(f"/admin/questions/{question_id}")).text()
    assert 'id="themes-h"' in html
    assert "overig" in html and "8 antwoorden" in html and "negatief" in html
    assert "positief" in html  # the canteen praise
    searched = await (await client.get(f"/admin/questions/{question_id}?q=salaris")).text()
    assert 'id="themes-h"' not in searched  # no themes of a search's few
    async with engine.db.transaction() as session:
        await question_cases.close(engine.services(session), question_id, actor_id=None)
    sent = await client.post(
        f"/admin/questions/{question_id}/follow-up", data={"csrf": csrf, "text": TEXT}
    )
    assert "Verstuurd naar iedereen" in await sent.text()
    rows = await _followup_rows(engine)
    assert len(rows) == len(org.people)
    assert all("Wat vaak genoemd werd:" in r["text"] or "Often mentioned:" in r["text"]
               for r in rows.values())  # fmt: skip
    missing = await client.post(
        "/admin/questions/999999/follow-up", data={"csrf": csrf, "text": TEXT}
    )
    assert missing.status == 404
