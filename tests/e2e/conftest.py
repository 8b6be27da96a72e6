"""Browser-test fixtures: one Chromium for the whole session (Debian's, not Playwright's own
download), and the real server on a loopback port per test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Request, async_playwright

from bot.app import Runtime
from bot.config import Settings
from tests.e2e.support import build_app

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 (once per session, before any await)
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does this)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        await launched.close()


@dataclass
class LiveServer:
    base: str
    runtime: Runtime
    requests: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path

    async def context(self, browser: Browser, *, phone: bool = False) -> BrowserContext:
        """A fresh browser profile whose every request is recorded."""
        viewport = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 900}
        context = await browser.new_context(viewport=viewport, locale="nl-NL")  # type: ignore[arg-type]

        def record(request: Request) -> None:
            self.requests.append(request.url)

        context.on("request", record)
        return context

    def foreign_requests(self) -> list[str]:
        """Requests to anything but this server (data: URLs never leave the page)."""
        own = urlsplit(self.base).netloc
        return [u for u in self.requests if not u.startswith("data:") and urlsplit(u).netloc != own]


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[LiveServer]:
    """The real app on 127.0.0.1 and a free port, served by aiohttp as in production."""
    app, runtime = build_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield LiveServer(base=f"http://127.0.0.1:{port}", runtime=runtime)
    finally:
        await runner.cleanup()


@pytest.fixture
def artifacts(settings: Settings) -> Path:
    """Where screenshots go (gitignored), one folder per database backend."""
    folder = ARTIFACTS / ("sqlite" if settings.is_sqlite else "postgresql")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
