"""Surveys on the dashboard: the question editor (rows added and removed without script, every
refusal next to its field, templates), live results with charts, themes, turnout and a
cross-tab, closing, and the PDF report download. Surveys are answered through the use case."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.config import Settings
from bot.engine import Engine
from bot.surveys.progress import Given
from storage.people import Audience
from storage.survey_models import Survey, SurveyQuestion
from tests.e2e.support import client_for, log_in, set_roles
from tests.support.org import Org
from tests.surveys.support import answer_all, make_survey

# Six answers to the open question about one thing, so they make a theme of their own.
PARKING = [
    "Te weinig parkeerplaatsen bij de fabriek",
    "De parkeerplaats is altijd vol",
    "Parkeren is een ramp, geen plek",
    "Meer parkeerplaatsen graag",
    "Ik vind nooit een parkeerplek",
    "Parkeerplaats uitbreiden alsjeblieft",
]


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    async with client_for(settings) as client:
        yield client


async def _surveys(engine: Engine) -> list[Survey]:
    async with engine.db.transaction(read_only=True) as session:
        return list((await session.execute(select(Survey).order_by(Survey.id))).scalars())


async def _answered(engine: Engine, org: Org, *, anonymous: bool = True) -> int:
    """The five-question survey of tests/surveys, answered by all eight colleagues."""
    survey_id = await make_survey(engine, anonymous=anonymous, turnout_target=50)
    for i in range(8):
        await answer_all(
            engine,
            survey_id,
            org.people[f"emp{i}"],
            [
                Given([1 if i < 5 else 2], "omdat het moet" if i == 0 else None),
                Given([1, 3] if i % 2 else [2]),
                Given([4 if i < 4 else 5]),
                Given([10 if i < 3 else 8 if i < 5 else 3]),
                Given(None, PARKING[i] if i < 6 else "Niets"),
            ],
            channel="slack" if i < 5 else "web",
        )
    return survey_id


async def test_create_a_survey_with_the_question_editor(
    client: TestClient, engine: Engine, org: Org
) -> None:
    csrf = await log_in(client, engine, org.people["olga"])
    page = await client.get("/admin/surveys/new")
    html = await page.text()
    assert page.status == 200 and "Werkdruk-pulse" in html  # the templates are offered
    assert html.count('name="q1_kind"') == 1 and 'name="q3_text"' in html
    base = {
        "csrf": csrf,
        "rows": "3",
        "title": "Nieuwe roosters",
        "introduction": "De OR wil weten wat je ervan vindt.",
        "audience": "department=Productie",
        "anonymous": "1",
        "language": "nl",
        "closes": "2099-01-01T12:00",
        "remind_hours": "24",
        "turnout_target": "60",
        "q1_kind": "single",
        "q1_text": "Steun je het voorstel?",
        "q1_options": "Ja\nNee\n\n Weet ik niet ",
        "q1_why": "1",
        "q2_kind": "scale",
        "q2_text": "Hoe druk is het?",
        "q2_low": "rustig",
        "q2_high": "te druk",
        "q3_kind": "open",
        "q3_text": "",  # a blank row is left out
    }
    # "Add a question" comes back with a fourth, blank row and keeps what was typed.
    added = await client.post("/admin/surveys", data={**base, "action": "add"})
    html = await added.text()
    assert added.status == 200 and 'name="q4_text"' in html and "Steun je het voorstel?" in html
    removed = await client.post("/admin/surveys", data={**base, "action": "remove:1"})
    html = await removed.text()
    assert 'name="q3_text"' not in html and "Steun je het voorstel?" not in html
    assert 'value="Hoe druk is het?"' in html or ">Hoe druk is het?<" in html
    assert await _surveys(engine) == []

    response = await client.post(
        "/admin/surveys", data={**base, "action": "create"}, allow_redirects=False
    )
    assert response.status == 303, await response.text()
    (survey,) = await _surveys(engine)
    assert response.headers["Location"] == f"/admin/surveys/{survey.id}"
    assert (
        survey.status == "open" and survey.anonymous and survey.created_by == org.people["olga"].id
    )
    assert survey.audience == {"department": "Productie"} and survey.audience_size == 4
    assert (survey.remind_hours, survey.turnout_target) == (24, 60)
    async with engine.db.transaction(read_only=True) as session:
        stmt = select(SurveyQuestion).where(SurveyQuestion.survey_id == survey.id)
        questions = sorted((await session.execute(stmt)).scalars(), key=lambda q: q.position)
    assert [(q.kind, q.options, q.why) for q in questions] == [
        ("single", ["Ja", "Nee", "Weet ik niet"], True),
        ("scale", [], False),
    ]
    assert (questions[1].low, questions[1].high) == ("rustig", "te druk")
    listing = await (await client.get("/admin/surveys")).text()
    assert "Nieuwe roosters" in listing and "0 van 4 ingevuld" in listing


async def test_every_refusal_is_shown_next_to_its_field(
    client: TestClient, engine: Engine, org: Org
) -> None:
    csrf = await log_in(client, engine, org.people["olga"])
    response = await client.post(
        "/admin/surveys",
        data={
            "csrf": csrf,
            "rows": "3",
            "title": "",
            "closes": "2001-01-01T10:00",
            "turnout_target": "150",
            "remind_hours": "veel",
            "q1_kind": "single",
            "q1_text": "Alleen één optie",
            "q1_options": "Ja",
            "q2_kind": "open",
            "q2_text": "Goed zo",
            "q3_kind": "scale",
            "q3_text": "Schaal zonder eindteksten",
        },
    )
    html = await response.text()
    assert response.status == 400
    assert await _surveys(engine) == []
    for field, text in [
        ("title", "De titel moet 1 tot 200 tekens lang zijn"),
        ("closes", "in de toekomst liggen"),
        ("turnout_target", "percentage van 1 tot 100"),
        ("remind_hours", "Geef een heel getal"),
        ("q1", "Vraag 1: geef 2 tot 10 antwoordmogelijkheden"),
        ("q3", "Vraag 3: een schaal 1–5 heeft een tekst bij 1 en bij 5"),
    ]:
        found = re.search(f'<p class="error" id="{field}-error">([^<]*)</p>', html)
        assert found and text in found.group(1), (field, found and found.group(1))
    assert 'id="q2-error"' not in html  # the valid question has no error
    # Nobody in the audience is the use case's refusal, shown at the audience field.
    empty = await client.post(
        "/admin/surveys",
        data={
            "csrf": csrf,
            "rows": "1",
            "title": "T",
            "closes": "2099-01-01T10:00",
            "audience": "department=Nergens",
            "q1_kind": "open",
            "q1_text": "Vraag?",
        },
    )
    assert empty.status == 400 and 'id="audience-error"' in await empty.text()


async def test_a_template_fills_the_editor(client: TestClient, engine: Engine, org: Org) -> None:
    await log_in(client, engine, org.people["olga"])
    html = await (await client.get("/admin/surveys/new?template=werkdruk-pulse")).text()
    assert 'value="Werkdruk-pulse"' in html
    assert "Hoe ervaar je je werkdruk de afgelopen maand?" in html
    assert 'name="q4_text"' in html and 'name="q5_text"' not in html
    english = await (
        await client.get("/admin/surveys/new?template=workload-pulse&language=en")
    ).text()
    assert "Workload" in english or "workload" in english
    unknown = await (await client.get("/admin/surveys/new?template=bestaat-niet")).text()
    assert 'id="template-error"' in unknown


async def test_colleagues_cannot_create_and_strangers_get_nothing(
    client: TestClient, engine: Engine, org: Org
) -> None:
    await set_roles(engine, org.people["mo"], {"moderator"})
    csrf = await log_in(client, engine, org.people["mo"])
    assert (await client.get("/admin/surveys")).status == 200
    assert (await client.get("/admin/surveys/new")).status == 403
    refused = await client.post("/admin/surveys", data={"csrf": csrf, "title": "x"})
    assert refused.status == 403 and await _surveys(engine) == []


async def test_results_page_shows_figures_charts_themes_and_turnout(
    client: TestClient, engine: Engine, org: Org
) -> None:
    survey_id = await _answered(engine, org)
    await log_in(client, engine, org.people["olga"])
    page = await client.get(f"/admin/surveys/{survey_id}")
    html = await page.text()
    assert page.status == 200
    assert "8 van 10 ingevuld (80.0%)" in html and "Streefdoel 50% gehaald" in html
    assert html.count('<svg class="chart"') >= 4  # four closed questions (+ turnout)
    # Question 1: 5 of 8 chose Ja; question 3's mean; question 4's eNPS (3 promoters, 3 detractors).
    assert '<th scope="row">Ja</th><td>5</td><td>62.5%</td>' in html
    assert "Gemiddelde: 4.5" in html
    assert "eNPS: 0.0 (3 promotors, 2 neutraal, 3 criticasters)" in html
    # Themes of the open question: the parking theme with its quotes, the rest "overig".
    assert "parkeer" in html.lower() and "overig" in html
    # The figures are fetched again every few seconds while open; themes (CPU) are not.
    assert f'data-live="/admin/surveys/{survey_id}/live"' in html
    live = await (await client.get(f"/admin/surveys/{survey_id}/live")).text()
    assert live.startswith('<div id="live" data-status="open">') or 'id="live"' in live[:200]
    assert "8 van 10 ingevuld (80.0%)" in live and "Gemiddelde: 4.5" in live
    assert "parkeer" not in live.lower() and "<html" not in live
    # Turnout by department: 2, 4 and 4 in the audience, each under 5, so only merged.
    turnout = html[html.index('id="turnout-h"') : html.index('id="q1-h"')]
    assert "Per afdeling" in turnout and "overige groepen" in turnout
    assert "Productie" not in turnout and "Logistiek" not in turnout


async def test_crosstab_by_department_and_by_another_question(
    client: TestClient, engine: Engine, org: Org
) -> None:
    survey_id = await _answered(engine, org, anonymous=False)
    await log_in(client, engine, org.people["olga"])
    html = await (await client.get(f"/admin/surveys/{survey_id}?q=3&by=department")).text()
    cross = html[html.index('id="cross-h"') :]
    # Scale question 3 by department: Productie (emp0,2,4,6) and Logistiek (1,3,5,7), 4 each:
    # both under 5, merged into one group that is still shown with its 8 respondents.
    assert "overige groepen" in cross and "<td>8</td>" in cross
    assert '<svg class="chart"' in cross and 'id="cross"' in cross  # a bar of 100% per group
    by_q = await (await client.get(f"/admin/surveys/{survey_id}?q=3&by=1")).text()
    cross = by_q[by_q.index('id="cross-h"') :]
    # Ja (5) and Nee (3): Nee is too small, and Ja alone would give it away, so one group.
    assert "overige groepen" in cross and "Gemiddelde" in cross and "<td>4.5</td>" in cross
    assert '<th scope="row">Ja</th>' not in cross
    same = await (await client.get(f"/admin/surveys/{survey_id}?q=3&by=3")).text()
    assert "Deze kruistabel kan niet" in same


async def test_close_from_the_dashboard(client: TestClient, engine: Engine, org: Org) -> None:
    survey_id = await make_survey(engine, audience=Audience(department="Productie"))
    csrf = await log_in(client, engine, org.people["olga"])
    page = await (await client.get(f"/admin/surveys/{survey_id}")).text()
    assert "Nu sluiten" in page
    forged = await client.post(f"/admin/surveys/{survey_id}/close", data={"csrf": "x"})
    assert forged.status == 403
    done = await client.post(
        f"/admin/surveys/{survey_id}/close", data={"csrf": csrf}, allow_redirects=False
    )
    assert done.status == 303
    (survey,) = await _surveys(engine)
    assert survey.status == "closed"
    assert "Nu sluiten" not in await (await client.get(f"/admin/surveys/{survey_id}")).text()
    assert (await client.get("/admin/surveys/999")).status == 404


async def test_report_download_is_a_pdf(client: TestClient, engine: Engine, org: Org) -> None:
    survey_id = await _answered(engine, org)
    await log_in(client, engine, org.people["olga"])
    response = await client.get(f"/admin/surveys/{survey_id}/report.pdf?lang=en")
    body = await response.read()
    assert response.status == 200 and response.content_type == "application/pdf"
    assert body.startswith(b"%PDF-") and body.rstrip().endswith(b"%%EOF")
    assert f'filename="consultation-{survey_id}.pdf"' in response.headers["Content-Disposition"]


async def test_the_or_says_what_it_does_with_the_outcome(
    client: TestClient, engine: Engine, org: Org
) -> None:
    survey_id = await _answered(engine, org)
    csrf = await log_in(client, engine, org.people["olga"])
    page = await (await client.get(f"/admin/surveys/{survey_id}")).text()
    assert "Na het sluiten laat je hier weten" in page and 'name="text"' not in page
    early = await client.post(
        f"/admin/surveys/{survey_id}/follow-up",
        data={"csrf": csrf, "text": "Te vroeg"},
        allow_redirects=False,
    )
    assert early.headers["Location"].endswith("?followup=not_closed")
    await client.post(f"/admin/surveys/{survey_id}/close", data={"csrf": csrf})
    page = await (await client.get(f"/admin/surveys/{survey_id}")).text()
    assert f'action="/admin/surveys/{survey_id}/follow-up"' in page
    text = "De OR vraagt de directie om 40 extra parkeerplaatsen."
    sent = await client.post(
        f"/admin/surveys/{survey_id}/follow-up",
        data={"csrf": csrf, "text": text},
        allow_redirects=False,
    )
    assert sent.status == 303 and sent.headers["Location"].endswith("?followup=sent")
    page = await (await client.get(sent.headers["Location"])).text()
    assert text in page and 'name="text"' not in page
    # Everyone in the audience gets the results with it (a broadcast: its first batch).
    message = await org.last("emp3")
    assert text in message.text and "80.0%" in message.text  # the turnout
    again = await client.post(
        f"/admin/surveys/{survey_id}/follow-up",
        data={"csrf": csrf, "text": "Nog eens"},
        allow_redirects=False,
    )
    assert again.headers["Location"].endswith("?followup=already")


async def test_a_scheduled_survey_has_a_page_and_a_report_before_anyone_answers(
    client: TestClient, engine: Engine, org: Org
) -> None:
    csrf = await log_in(client, engine, org.people["olga"])
    response = await client.post(
        "/admin/surveys",
        data={
            "csrf": csrf,
            "rows": "1",
            "title": "Later",
            "opens": "2098-06-01T09:00",
            "closes": "2098-06-08T17:00",
            "q1_kind": "nps",
            "q1_text": "Raad je ons aan?",
        },
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    (survey,) = await _surveys(engine)
    assert survey.status == "scheduled" and not survey.anonymous  # the box was not ticked
    page = await (await client.get(f"/admin/surveys/{survey.id}")).text()
    assert "gepland" in page and "data-live" not in page and "Nu sluiten" not in page
    listing = await (await client.get("/admin/surveys")).text()
    assert "Opent 1 jun 2098 09:00" in listing
    pdf = await client.get(f"/admin/surveys/{survey.id}/report.pdf")
    assert pdf.status == 200 and (await pdf.read()).startswith(b"%PDF-")


async def test_the_pages_in_english(client: TestClient, engine: Engine, org: Org) -> None:
    survey_id = await _answered(engine, org)
    csrf = await log_in(client, engine, org.people["olga"])
    await client.post("/admin/language", data={"csrf": csrf, "lang": "en", "next": "/admin"})
    page = await (await client.get(f"/admin/surveys/{survey_id}?q=4&by=location")).text()
    assert "Consultation" in page and "8 of 10 completed (80.0%)" in page
    assert "Mean: 4.5" in page and "eNPS: 0.0" in page and "Cross-tab" in page
    form = await (await client.get("/admin/surveys/new")).text()
    assert "Workload pulse" in form or "Templates in Dutch" in form


async def test_texts_are_shown_as_typed_never_as_markup(
    client: TestClient, engine: Engine, org: Org
) -> None:
    text = '<img src="http://example.com/x.png"> & <script>alert(1)</script>'
    survey_id = await make_survey(engine, introduction=text)
    await log_in(client, engine, org.people["olga"])
    page = await (await client.get(f"/admin/surveys/{survey_id}")).text()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert '<img src="http://example.com' not in page
    # The report is made from the same escaped templates.
    pdf = await client.get(f"/admin/surveys/{survey_id}/report.pdf")
    assert pdf.status == 200 and (await pdf.read()).startswith(b"%PDF-")
