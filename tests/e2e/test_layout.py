"""Every dashboard page and the web chat, filled with long realistic content, fit a 390 px
phone and a 1280 px desktop in Chromium: the page never scrolls sideways, no table is wider
than its box, no table cell's content spills out, and no word in a cell is broken mid-word;
in Dutch and again in English (with the authors' English texts, tests/e2e/english_seed.py).

A word may wrap after a hyphen or a slash (as in "Oosterhuis-Vanderbrugghen" or a link);
a break anywhere else inside a word is counted. The pages come from the server's own routes
(tests/e2e/seed.py, page_paths), so a page added later is checked too.
"""

from __future__ import annotations

from playwright.async_api import Browser, BrowserContext, Page

from bot.engine import Engine
from bot.i18n import t
from bot.web.routes import web_routes
from storage.media import MediaStore
from tests.e2e.conftest import LiveServer
from tests.e2e.english_seed import QUESTION_EN, add_english
from tests.e2e.seed import Seeded, page_paths, seed
from tests.e2e.support import invite_link, login_link, set_roles
from tests.support.org import Org

WIDTHS = (390, 1280)

# What does not fit, as sentences; an empty list is a page that fits.
PROBLEMS = r"""() => {
  const problems = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth) {
    const wide = Array.from(document.querySelectorAll("body *"))
      .filter((el) => el.getBoundingClientRect().right > doc.clientWidth + 1)
      .slice(-3).map((el) => el.tagName + "." + el.className);
    problems.push(`page scrolls sideways: ${doc.scrollWidth} > ${doc.clientWidth} (${wide})`);
  }
  for (const table of document.querySelectorAll("table")) {
    const box = table.parentElement;
    if (table.getBoundingClientRect().width > box.clientWidth + 1) {
      problems.push(`table wider than its box: ${table.innerText.slice(0, 40)}`);
    }
  }
  for (const cell of document.querySelectorAll("td, th")) {
    const label = cell.innerText.trim().slice(0, 50);
    if (cell.textContent.trim() && !cell.getClientRects().length) {
      problems.push(`cell not shown: ${cell.textContent.trim().slice(0, 50)}`);
    }
    if (cell.scrollWidth > cell.clientWidth + 1) problems.push(`cell spills out: ${label}`);
    const style = getComputedStyle(cell);
    if (style.wordBreak === "break-all" || style.overflowWrap === "anywhere") {
      problems.push(`cell may break any word: ${label}`);
    }
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      // A word: letters up to a space, or up to and including a hyphen or slash.
      for (const match of node.data.matchAll(/[^\s\-\u2010\u2013\/]+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const tops = new Set(Array.from(range.getClientRects(), (r) => Math.round(r.top)));
        if (tops.size > 1) problems.push(`word broken: ${match[0]}`);
      }
    }
  }
  // Chart texts are drawn in the SVG's own units: one wider than the chart is cut off.
  for (const text of document.querySelectorAll("svg.chart text")) {
    const box = text.getBBox();
    if (box.x + box.width > text.ownerSVGElement.viewBox.baseVal.width + 1) {
      problems.push(`chart text cut off: ${text.textContent}`);
    }
  }
  return problems;
}"""


async def problems_of(page: Page, path: str, width: int) -> list[str]:
    await page.set_viewport_size({"width": width, "height": 900})
    response = await page.goto(page.url if path == "" else path)
    assert response is not None and response.ok, f"{path}: {response and response.status}"
    await page.wait_for_load_state("load")
    found: list[str] = await page.evaluate(PROBLEMS)
    return [f"{path} at {width} px: {p}" for p in found]


async def dashboard(
    browser: Browser, server: LiveServer, engine: Engine, org: Org
) -> tuple[BrowserContext, Page, Seeded]:
    """Logged in as an OR member who is also admin and moderator (every page is theirs)."""
    await set_roles(engine, org.people["olga"], {"or_member", "admin", "moderator"})
    seeded = await seed(engine, org, MediaStore(server.runtime.settings.data_dir / "media"))
    context = await server.context(browser)
    page = await context.new_page()
    await page.goto(server.url(await login_link(engine, org.people["olga"])))
    await page.get_by_role("button", name="Inloggen").click()
    await page.wait_for_url("**/admin")
    return context, page, seeded


async def test_every_dashboard_page_and_the_chat_fit_phone_and_desktop(
    browser: Browser, server: LiveServer, engine: Engine, org: Org
) -> None:
    context, page, seeded = await dashboard(browser, server, engine, org)
    paths = page_paths(web_routes(server.runtime), seeded)
    assert len(paths) >= 15, paths
    problems: list[str] = []
    for path in paths:
        for width in WIDTHS:
            problems += await problems_of(page, server.url(path), width)
    # The same pages in English, whose labels and authors' texts are often longer: switched
    # with the dashboard's own language switch, on the same seed and browser (run time).
    await add_english(engine, seeded)
    await page.select_option("#lang-select", "en")
    await page.get_by_role("button", name=t("nl", "web.language_apply")).click()
    await page.wait_for_selector("html[lang=en]")
    for path in paths:
        for width in WIDTHS:
            problems += await problems_of(page, server.url(path), width)
    await page.goto(server.url(f"/admin/polls/{seeded.poll}"))
    assert await page.get_attribute("html", "lang") == "en"
    assert QUESTION_EN in await page.inner_text("main"), "the English pass saw Dutch texts"
    # The pages before logging in, and the web chat of a colleague with the long name.
    public = await server.context(browser)
    before = await public.new_page()
    for path in ("/admin/login", await login_link(engine, org.people["emp1"])):
        for width in WIDTHS:
            problems += await problems_of(before, server.url(path), width)
    await before.goto(server.url(await invite_link(engine, org.people["emp0"])))
    await before.get_by_role("button", name="Chat openen").click()
    await before.wait_for_url("**/chat")
    for width in WIDTHS:
        problems += await problems_of(before, server.url("/chat"), width)
    assert problems == [], "\n".join(problems)
    assert server.foreign_requests() == []
    await public.close()
    await context.close()
