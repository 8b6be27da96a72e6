"""Building the real server (webhooks + dashboard + web chat) and logging people in, for the
web tests and the browser tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from aiohttp import ClientSession, CookieJar, web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Runtime, build_runtime
from bot.config import Settings
from bot.engine import Engine
from bot.server import create_web_app
from bot.usecases.access import issue_invite, issue_login_link
from bot.web import chat_views as web_channel
from bot.web.routes import web_routes
from storage.models import Person, utcnow


def build_app(settings: Settings, *, background: bool = False) -> tuple[web.Application, Runtime]:
    """The app as the lead wires it: the web channel mounted, the dashboard routes added."""
    runtime = build_runtime(settings)
    runtime.mounts["web"] = web_channel.mount(settings, runtime.engine)
    app = create_web_app(runtime, background=background)
    app.router.add_routes(web_routes(runtime))
    return app, runtime


def path_of(url: str) -> str:
    return urlsplit(url).path


async def set_roles(engine: Engine, person: Person, roles: set[str]) -> None:
    async with engine.db.transaction() as session:
        await engine.services(session).people.set_roles(person.id, roles)


async def login_link(engine: Engine, person: Person) -> str:
    """The path of a fresh one-time dashboard link for `person`."""
    async with engine.db.transaction() as session:
        url = await issue_login_link(session, person.id, now=utcnow(), base_url="http://x")
    return path_of(url)


async def invite_link(engine: Engine, person: Person) -> str:
    async with engine.db.transaction() as session:
        url = await issue_invite(session, person.id, now=utcnow(), base_url="http://x")
    return path_of(url)


def form_csrf(html: str) -> str:
    """The CSRF token of the first form on a page."""
    marker = 'name="csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


async def log_in(client: TestClient | ClientSession, engine: Engine, person: Person) -> str:
    """Log `person` in through a real link, as a browser does; returns the page CSRF token."""
    path = await login_link(engine, person)
    page = await client.get(path)
    assert page.status == 200, await page.text()
    done = await client.post(
        path, data={"csrf": form_csrf(await page.text())}, allow_redirects=False
    )
    assert done.status == 303, await done.text()
    overview = await client.get("/admin")
    assert overview.status == 200
    return form_csrf(await overview.text())


async def join_chat(client: TestClient | ClientSession, engine: Engine, person: Person) -> str:
    """Open `person`'s web chat invitation; returns the chat page's CSRF token."""
    path = await invite_link(engine, person)
    page = await client.get(path)
    assert page.status == 200, await page.text()
    done = await client.post(
        path, data={"csrf": form_csrf(await page.text())}, allow_redirects=False
    )
    assert done.status == 303, await done.text()
    chat = await client.get("/chat")
    assert chat.status == 200
    return form_csrf(await chat.text())


@asynccontextmanager
async def client_for(settings: Settings) -> AsyncIterator[TestClient]:
    """A test client of the whole app (its own cookie jar: one browser)."""
    app, _runtime = build_app(settings)
    async with TestClient(TestServer(app)) as client:
        yield client


@asynccontextmanager
async def another_browser(client: TestClient) -> AsyncIterator[ClientSession]:
    """A second browser on the same server (its own cookies)."""
    jar = CookieJar(unsafe=True)  # cookies from 127.0.0.1, as browsers keep them
    async with ClientSession(base_url=str(client.make_url("/")), cookie_jar=jar) as other:
        yield other
