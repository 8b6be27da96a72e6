"""Open questions, reports and nominations on the dashboard."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.config import Settings
from bot.engine import Engine
from storage.media import ORIGINAL, PROCESSED, MediaStore
from storage.models import AuditEntry, OpenAnswer, Report, utcnow
from storage.nominations import Nominations, Nominator
from storage.people import Audience
from storage.questions import Questions
from storage.reports import NAMED, NewPhoto, Reports
from tests.e2e.support import client_for, log_in
from tests.support.org import Org

EVIL = "<script>alert('x')</script>"


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    async with client_for(settings) as client:
        yield client


async def _question(engine: Engine, org: Org, *, anonymous: bool) -> int:
    async with engine.db.transaction() as session:
        questions = Questions(session)
        now = utcnow()
        question = await questions.create(
            text="Wat kan beter?", anonymous=anonymous, audience=Audience(), closes_at=None,
            created_by=org.people["olga"].id, now=now,
        )  # fmt: skip
        await questions.answer(question, org.people["emp0"].id, "Meer pauzes", now)
        await questions.answer(question, org.people["emp1"].id, f"Koffie {EVIL}", now)
        await questions.answer(question, org.people["emp2"].id, "Idioot antwoord", now)
        return question.id


async def test_answers_search_hide_and_export(client: TestClient, engine: Engine, org: Org) -> None:
    question_id = await _question(engine, org, anonymous=False)
    await log_in(client, engine, org.people["olga"])
    listing = await (await client.get("/admin/questions")).text()
    assert "Wat kan beter?" in listing
    html = await (await client.get(f"/admin/questions/{question_id}")).text()
    assert "Meer pauzes" in html and "Emp0" in html and "&lt;script&gt;" in html
    assert "<script>alert" not in html and "/hide" not in html  # an OR member cannot hide
    found = await (await client.get(f"/admin/questions/{question_id}?q=pauze")).text()
    assert "Meer pauzes" in found and "Koffie" not in found

    async with engine.db.transaction(read_only=True) as session:
        stmt = select(OpenAnswer.id).where(OpenAnswer.text == "Idioot antwoord")
        answer_id = (await session.execute(stmt)).scalar_one()
    client.session.cookie_jar.clear()
    csrf = await log_in(client, engine, org.people["mo"])  # a moderator hides it
    hidden = await client.post(
        f"/admin/questions/{question_id}/answers/{answer_id}/hide", data={"csrf": csrf}
    )
    assert hidden.status == 200 and "Idioot" not in await hidden.text()
    export = await client.get(f"/admin/questions/{question_id}/answers.csv")
    rows = list(csv.reader(io.StringIO(await export.text())))
    assert rows[0] == ["answer", "answered_on", "name", "department", "text"]
    assert {r[4] for r in rows[1:]} == {"Meer pauzes", f"Koffie {EVIL}"}
    async with engine.db.transaction(read_only=True) as session:
        actions = (await session.execute(select(AuditEntry.action))).scalars().all()
    assert "answer.hidden" in actions


async def test_anonymous_answers_carry_no_names(
    client: TestClient, engine: Engine, org: Org
) -> None:
    question_id = await _question(engine, org, anonymous=True)
    await log_in(client, engine, org.people["olga"])
    html = await (await client.get(f"/admin/questions/{question_id}")).text()
    assert "Meer pauzes" in html and "Emp0" not in html
    export = await (await client.get(f"/admin/questions/{question_id}/answers.csv")).text()
    assert "Emp0" not in export and "emp0" not in export


async def _report(engine: Engine, org: Org, settings: Settings) -> tuple[int, str, str]:
    store = MediaStore(settings.data_dir / "media")
    processed = store.put(b"\xff\xd8\xff processed", PROCESSED)
    original = store.put(b"\xff\xd8\xff original", ORIGINAL)
    async with engine.db.transaction() as session:
        report = await Reports(session).create(
            reporter_id=org.people["emp0"].id, privacy=NAMED,
            description=f"Losse kabel {EVIL}", location="Hal 3", recognisable="no",
            consent=None, now=utcnow(),
            photos=[NewPhoto(processed, original, faces=0, blurred=0, width=40, height=30)],
        )  # fmt: skip
        return report.id, processed, original


async def test_moderation_queue_status_notes_and_photos(
    client: TestClient, engine: Engine, org: Org, settings: Settings
) -> None:
    report_id, processed, original = await _report(engine, org, settings)
    await log_in(client, engine, org.people["olga"])
    # Not published yet: the OR member sees nothing of it.
    assert "Losse kabel" not in await (await client.get("/admin/reports")).text()
    assert (await client.get(f"/admin/reports/{report_id}")).status == 404
    assert (await client.get(f"/admin/media/{processed}")).status == 404

    client.session.cookie_jar.clear()
    csrf = await log_in(client, engine, org.people["mo"])
    queue = await (await client.get("/admin/reports?status=new")).text()
    assert "Losse kabel" in queue and "&lt;script&gt;" in queue
    html = await (await client.get(f"/admin/reports/{report_id}")).text()
    assert "Emp0" in html and f"/admin/media/{processed}" in html and original in html
    assert (await client.get(f"/admin/media/{original}")).status == 200
    image = await client.get(f"/admin/media/{processed}")
    assert image.status == 200 and image.content_type == "image/jpeg"
    noted = await client.post(
        f"/admin/reports/{report_id}/notes", data={"csrf": csrf, "text": "Facilitair gebeld"}
    )
    assert "Facilitair gebeld" in await noted.text()
    published = await client.post(
        f"/admin/reports/{report_id}/status",
        data={"csrf": csrf, "status": "published", "reason": "Dank je!"},
    )
    assert published.status == 200 and "Dank je!" in await published.text()
    again = await client.post(
        f"/admin/reports/{report_id}/status", data={"csrf": csrf, "status": "new"}
    )
    assert "niet gewijzigd" in await again.text()
    async with engine.db.transaction(read_only=True) as session:
        report = await session.get(Report, report_id)
        assert report is not None and report.status == "published"
        actions = set((await session.execute(select(AuditEntry.action))).scalars())
    assert {"report.status", "report.note", "report.original_viewed"} <= actions
    assert "Dank je!" in (await org.last("emp0")).text  # the reporter was told

    client.session.cookie_jar.clear()
    await log_in(client, engine, org.people["olga"])
    html = await (await client.get(f"/admin/reports/{report_id}")).text()
    assert "Losse kabel" in html and "Emp0" not in html and original not in html
    assert (await client.get(f"/admin/media/{processed}")).status == 200
    assert (await client.get(f"/admin/media/{original}")).status == 403
    assert (await client.get("/admin/media/p-nothex")).status == 404


async def test_nomination_ranking(client: TestClient, engine: Engine, org: Org) -> None:
    now = utcnow()
    async with engine.db.transaction() as session:
        nominations = Nominations(session)
        campaign = await nominations.create_campaign(
            title="Verkiezingen 2027", closes_at=now + timedelta(days=7), anonymous=True,
            max_per_person=None, created_by=org.people["olga"].id, now=now,
        )  # fmt: skip
        for nominator in ("emp0", "emp1", "emp3"):
            who = Nominator(key=f"key-{nominator}")
            await nominations.nominate(campaign.id, who, org.people["emp2"].id, "Eerlijk", now)
        await nominations.nominate(
            campaign.id, Nominator(key="key-emp4"), org.people["emp4"].id, None, now,
            is_self=True,
        )  # fmt: skip
    await log_in(client, engine, org.people["olga"])
    overview = await (await client.get("/admin")).text()
    assert "Verkiezingen 2027" in overview
    html = await (await client.get(f"/admin/nominations/{campaign.id}")).text()
    assert html.index("Emp2") < html.index("Emp4") and "nomineerde zichzelf" in html
    assert "Emp0" not in html  # anonymous: nominators are not shown
    assert (await client.get("/admin/nominations")).status == 200
