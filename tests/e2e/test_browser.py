"""The dashboard and the web chat in a real browser (Chromium) against the real server.

Every request the pages make is recorded: nothing may go to another host (no CDN, no fonts).
Screenshots of the main pages land in test-artifacts/ for people to look at.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from playwright.async_api import Browser, Page, expect
from sqlalchemy import func, select

from bot.engine import Engine
from storage.media import PROCESSED, MediaStore
from storage.models import Ballot, Person, utcnow
from storage.reports import NAMED, NewPhoto, Reports
from tests.e2e.conftest import LiveServer
from tests.e2e.support import invite_link, login_link, set_roles
from tests.support.org import Org

WAIT = 10_000  # ms; the chat asks every 2 s, the results refresh every 3 s

UNLABELLED = """() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter((el) => el.type !== 'hidden')
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
  .map((el) => el.outerHTML)"""


async def assert_labelled(page: Page) -> None:
    """Every visible form control has a label (screen readers, voice control)."""
    assert await page.evaluate(UNLABELLED) == [], page.url


async def log_in(page: Page, server: LiveServer, path: str) -> None:
    await page.goto(server.url(path))
    await page.get_by_role("button", name="Inloggen").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Overzicht")


async def test_poll_from_dashboard_to_web_chat_and_back(
    browser: Browser, server: LiveServer, engine: Engine, org: Org, artifacts: Path
) -> None:
    # An English-speaking colleague opens the web chat on a phone.
    phone = await server.context(browser, phone=True)
    chat = await phone.new_page()
    await chat.goto(server.url(await invite_link(engine, org.people["emp1"])))
    await chat.get_by_role("button", name="Open the chat").click()
    await expect(chat.locator("#log")).to_contain_text("Hello Emp1!")
    await assert_labelled(chat)

    # An OR member logs in on a desktop and creates a poll.
    desktop = await server.context(browser)
    admin = await desktop.new_page()
    await log_in(admin, server, await login_link(engine, org.people["olga"]))
    await admin.screenshot(path=artifacts / "overview.png", full_page=True)
    await admin.get_by_role("link", name="Peilingen", exact=True).click()
    await admin.get_by_role("link", name="Nieuwe peiling").click()
    await admin.get_by_label("Vraag", exact=True).fill("Zullen we op vrijdag thuiswerken?")
    await admin.get_by_label("Antwoordmogelijkheden", exact=True).fill("Ja\nNee\nWeet ik niet")
    await assert_labelled(admin)
    await admin.screenshot(path=artifacts / "poll-new.png", full_page=True)
    await admin.get_by_role("button", name="Peiling openen en versturen").click()
    await expect(admin.get_by_role("heading", level=1)).to_contain_text("Peiling")
    await expect(admin.locator("#live")).to_contain_text("0 van 10")

    # The poll appears in the chat without reloading; the colleague presses a button.
    poll_message = chat.locator("article.msg.bot", has_text="thuiswerken")
    await expect(poll_message).to_be_visible(timeout=WAIT)
    await chat.screenshot(path=artifacts / "chat-poll.png", full_page=True)
    await poll_message.get_by_role("button", name="Nee").click()
    await expect(chat.locator("#log")).to_contain_text("You chose: Nee", timeout=WAIT)
    await expect(poll_message.get_by_role("button", name="Nee")).to_have_count(0)
    await chat.screenshot(path=artifacts / "chat-voted.png", full_page=True)

    # The dashboard's chart shows the vote by itself (live refresh), in the SVG.
    await expect(admin.locator("#live")).to_contain_text("1 van 10", timeout=WAIT)
    await expect(admin.locator("svg.chart")).to_contain_text("1 (100%)")
    await admin.screenshot(path=artifacts / "poll-detail.png", full_page=True)
    async with engine.db.transaction(read_only=True) as session:
        ballots = (await session.execute(select(Ballot.channel))).scalars().all()
    assert ballots == ["web"]

    # A phone-wide dashboard still fits: nothing wider than the screen but the tables.
    await admin.set_viewport_size({"width": 390, "height": 844})
    await admin.reload()
    width = await admin.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    await admin.screenshot(path=artifacts / "poll-detail-phone.png", full_page=True)

    assert server.foreign_requests() == []
    assert any("/static/app.css" in u for u in server.requests)
    await phone.close()
    await desktop.close()


async def test_roster_with_one_bad_line_imports_nothing(
    browser: Browser, server: LiveServer, engine: Engine, org: Org, artifacts: Path, tmp_path: Path
) -> None:
    await set_roles(engine, org.people["olga"], {"or_member", "admin"})
    async with engine.db.transaction(read_only=True) as session:
        before = (await session.execute(select(func.count()).select_from(Person))).scalar_one()
    roster = tmp_path / "personeel.csv"
    roster.write_text(
        "name,email,phone,department,location,language,roles\n"
        "Anna de Vries,anna@example.org,,Productie,Eindhoven,nl,\n"
        "Bob Jansen,bob(at)example.org,,Logistiek,Tilburg,nl,\n"
        "Chris Smit,chris@example.org,,Kantoor,Tilburg,en,moderator\n",
        encoding="utf-8",
    )
    context = await server.context(browser)
    page = await context.new_page()
    await log_in(page, server, await login_link(engine, org.people["olga"]))
    await page.get_by_role("link", name="Mensen").click()
    await page.get_by_label("Personeelslijst (CSV-bestand)").set_input_files(roster)
    await page.get_by_role("button", name="Uploaden en importeren").click()
    errors = page.locator("#roster-errors")
    await expect(errors).to_contain_text("Regel 3:")
    await expect(errors).to_contain_text("bob(at)example.org")
    await expect(errors).to_contain_text("Er is niets geïmporteerd")
    await assert_labelled(page)
    await page.screenshot(path=artifacts / "people-roster-error.png", full_page=True)
    async with engine.db.transaction(read_only=True) as session:
        after = (await session.execute(select(func.count()).select_from(Person))).scalar_one()
    assert after == before
    assert server.foreign_requests() == []
    await context.close()


async def test_keyboard_reaches_everything_with_a_visible_focus(
    browser: Browser, server: LiveServer, engine: Engine, org: Org
) -> None:
    context = await server.context(browser)
    page = await context.new_page()
    await log_in(page, server, await login_link(engine, org.people["olga"]))
    await page.keyboard.press("Tab")
    first = await page.evaluate("document.activeElement.textContent.trim()")
    assert first == "Direct naar de inhoud"  # the skip link comes first
    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    visited = set()
    for _ in range(30):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement === document.body"):
            break  # past the last control
        visited.add(await page.evaluate("document.activeElement.textContent.trim()"))
        style = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert style != "none", await page.evaluate("document.activeElement.outerHTML")
    assert {"Overzicht", "Peilingen", "Mensen", "Logboek", "Uitloggen"} <= visited
    await context.close()


async def test_moderate_a_report(
    browser: Browser, server: LiveServer, engine: Engine, org: Org, artifacts: Path
) -> None:
    store = MediaStore(server.runtime.settings.data_dir / "media")
    image = io.BytesIO()
    Image.new("RGB", (320, 200), (200, 120, 40)).save(image, "JPEG")
    processed = store.put(image.getvalue(), PROCESSED)
    async with engine.db.transaction() as session:
        report = await Reports(session).create(
            reporter_id=org.people["emp0"].id, privacy=NAMED,
            description="Losse kabel over het looppad", location="Hal 3, bij de pers",
            recognisable="no", consent=None, now=utcnow(),
            photos=[NewPhoto(processed, None, faces=0, blurred=0, width=320, height=200)],
        )  # fmt: skip
    context = await server.context(browser)
    page = await context.new_page()
    await log_in(page, server, await login_link(engine, org.people["mo"]))
    await page.get_by_role("link", name="Meldingen", exact=True).click()
    await page.get_by_role("link", name="Losse kabel over het looppad").click()
    photo = page.get_by_role("img", name=f"Foto 1 van melding {report.id}")
    await expect(photo).to_be_visible()
    # Loaded from the server, not just laid out: the image decodes at its real size.
    await photo.evaluate("img => img.decode()")
    assert await photo.evaluate("img => img.naturalWidth") == 320
    await page.get_by_label("Nieuwe status").select_option("published")
    await page.get_by_label("Toelichting voor de melder (verplicht bij afwijzen)").fill("Opgepakt")
    await assert_labelled(page)
    await page.get_by_role("button", name="Status opslaan").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("gepubliceerd")
    await page.screenshot(path=artifacts / "report-moderated.png", full_page=True)
    assert "Opgepakt" in (await org.last("emp0")).text
    assert server.foreign_requests() == []
    await context.close()
