"""The survey pages in Chromium at 390 px and 1280 px: no sideways scrolling, no table or
chart text spilling out (the layout test's checks, tests/e2e/test_layout.py), nothing loaded
from elsewhere; and a survey made with the question editor in the browser, where adding a
question is a plain submit button (no script needed)."""

from __future__ import annotations

from playwright.async_api import Browser
from sqlalchemy import select

from bot.engine import Engine
from storage.survey_models import Survey
from tests.e2e.conftest import LiveServer
from tests.e2e.support import login_link
from tests.e2e.survey_seed import seed_survey
from tests.e2e.test_layout import WIDTHS, problems_of
from tests.support.org import Org


async def test_survey_pages_fit_phone_and_desktop_and_the_editor_works(
    browser: Browser, server: LiveServer, engine: Engine, org: Org
) -> None:
    survey_id = await seed_survey(engine, org)
    context = await server.context(browser, phone=True)
    page = await context.new_page()
    await page.goto(server.url(await login_link(engine, org.people["olga"])))
    await page.get_by_role("button", name="Inloggen").click()
    await page.wait_for_url("**/admin")
    paths = [
        "/admin/surveys",
        "/admin/surveys/new",
        "/admin/surveys/new?template=adviesaanvraag",
        f"/admin/surveys/{survey_id}",
        f"/admin/surveys/{survey_id}?q=1&by=department",
        f"/admin/surveys/{survey_id}?q=3&by=2",
    ]
    problems: list[str] = []
    for path in paths:
        for width in WIDTHS:
            problems += await problems_of(page, server.url(path), width)
    assert problems == [], "\n".join(problems)
    # The results page shows its charts and the report link.
    await page.goto(server.url(f"/admin/surveys/{survey_id}"))
    assert await page.locator("svg.chart").count() >= 4
    assert await page.get_by_role("link", name="Rapport voor de werkgever (pdf)").count() == 1

    # The editor on a phone: fill one question, add a second with the button, create.
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(server.url("/admin/surveys/new"))
    await page.get_by_label("Titel", exact=True).fill("Koffie op de werkvloer")
    await page.get_by_label("Sluit", exact=True).fill("2099-01-01T12:00")
    await page.locator("#q1_kind").select_option("nps")
    await page.locator("#q1_text").fill("Hoe tevreden ben je over de koffie?")
    await page.get_by_role("button", name="Vraag toevoegen").click()
    assert await page.locator("#q4_text").count() == 1  # three rows, plus the added one
    assert await page.locator("#q1_text").input_value() == "Hoe tevreden ben je over de koffie?"
    await page.locator("#q2_kind").select_option("open")
    await page.locator("#q2_text").fill("Wat mis je?")
    await page.get_by_role("button", name="Raadpleging aanmaken", exact=True).last.click()
    await page.wait_for_url("**/admin/surveys/*")
    async with engine.db.transaction(read_only=True) as session:
        made = (
            await session.execute(select(Survey).where(Survey.title == "Koffie op de werkvloer"))
        ).scalar_one()
    assert page.url.endswith(f"/admin/surveys/{made.id}")
    problems = []
    for width in WIDTHS:
        problems += await problems_of(page, server.url(f"/admin/surveys/{made.id}"), width)
    assert problems == [], "\n".join(problems)
    assert server.foreign_requests() == []
    await context.close()
