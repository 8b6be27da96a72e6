"""Screenshots of every dashboard page and the web chat at 390 px and 1280 px, for people to
look at (not part of `make test`: pytest collects only test_*.py). Run on demand:

    .venv/bin/pytest -p no:cacheprovider tests/e2e/screens.py -k sqlite

PNGs go to $ACHTERBAN_SCREENS (default /tmp/achterban-screens), named after the page's path
and the width, e.g. admin-polls-1-390.png. The content is the long realistic seed of the
layout test (tests/e2e/seed.py); the chat shows a colleague's history and open items.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.async_api import Browser, Page

from bot.engine import Engine
from bot.web.routes import web_routes
from tests.e2e.conftest import LiveServer
from tests.e2e.seed import page_paths
from tests.e2e.support import invite_link, login_link
from tests.e2e.test_layout import WIDTHS, dashboard
from tests.support.org import Org

SCREENS = Path(os.environ.get("ACHTERBAN_SCREENS", "/tmp/achterban-screens"))


def _name(path: str, width: int) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "root"
    return f"{slug}-{width}.png"


async def _shoot(page: Page, url: str, name: str, width: int) -> Path:
    await page.set_viewport_size({"width": width, "height": 844 if width < 600 else 900})
    response = await page.goto(url)
    assert response is not None and response.ok, f"{url}: {response and response.status}"
    await page.wait_for_load_state("load")
    target = SCREENS / _name(name, width)
    await page.screenshot(path=target, full_page=True)
    return target


async def test_screenshots(browser: Browser, server: LiveServer, engine: Engine, org: Org) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (once, before the browser)
    context, page, seeded = await dashboard(browser, server, engine, org)
    saved = []
    for path in page_paths(web_routes(server.runtime), seeded):
        for width in WIDTHS:
            saved.append(await _shoot(page, server.url(path), path, width))
    public = await server.context(browser)
    before = await public.new_page()
    for width in WIDTHS:
        saved.append(await _shoot(before, server.url("/admin/login"), "/admin/login", width))
        link = await login_link(engine, org.people["emp1"])
        saved.append(await _shoot(before, server.url(link), "/admin/login/link", width))
    # The web chat: opened, a few messages back and forth, then opened again.
    await before.goto(server.url(await invite_link(engine, org.people["emp0"])))
    await before.get_by_role("button", name="Chat openen").click()
    await before.wait_for_url("**/chat")
    await before.set_viewport_size({"width": 390, "height": 844})
    await before.get_by_role("button", name="Peilingen tonen").click()
    await before.locator("article.msg.bot form.choices").last.wait_for()
    for width in WIDTHS:
        saved.append(await _shoot(before, server.url("/chat"), "/chat", width))
        await before.screenshot(path=SCREENS / _name("/chat-viewport", width))
    # After switching to English in the chat (no reload): the page's own texts follow.
    await before.get_by_label("Je bericht").fill("taal")
    await before.get_by_role("button", name="Versturen").click()
    await before.locator("article.msg.bot").get_by_role("button", name="English").last.click()
    await before.get_by_role("button", name="Send").wait_for()
    await before.screenshot(path=SCREENS / _name("/chat-english", 1280))
    saved.append(SCREENS / _name("/chat-english", 1280))
    await public.close()
    await context.close()
    print(f"\n{len(saved)} screenshots in {SCREENS}")
