"""Logging in to the dashboard: one-time links (chat command, CLI), sessions, logout, cookies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import typer
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select, update
from typer.testing import CliRunner, Result

from bot.cli.web import admin_app, web_app
from bot.config import Settings
from bot.engine import Engine
from bot.usecases.access import LOGIN_LINK_TTL as TTL
from storage.models import AuditEntry, utcnow
from storage.web import ADMIN, LoginLinks, WebSessions
from storage.web_models import WebSession
from tests.e2e.support import another_browser, client_for, form_csrf, log_in, login_link, path_of
from tests.support.org import Org


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    async with client_for(settings) as client:
        yield client


async def test_a_link_logs_in_once(client: TestClient, engine: Engine, org: Org) -> None:
    path = await login_link(engine, org.people["olga"])
    landing = await client.get(path)
    html = await landing.text()
    assert landing.status == 200 and "Olga" in html
    # Only pressing the button uses the link: opening it again (a link preview) still works.
    assert (await client.get(path)).status == 200
    async with another_browser(client) as other:
        # A second browser opened the same link before it was used...
        other_html = await (await other.get(path)).text()
        used = await client.post(path, data={"csrf": form_csrf(html)}, allow_redirects=False)
        assert used.status == 303 and used.headers["Location"] == "/admin"
        cookie = used.cookies["achterban_admin"]
        assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/admin"
        assert not cookie["secure"]  # the public URL is http in the tests
        assert (await client.get("/admin")).status == 200
        # ... and presses the button after the first: refused, no second session.
        again = await other.post(path, data={"csrf": form_csrf(other_html)})
        assert again.status == 410
        assert "al gebruikt" in await again.text()
    assert (await client.get(path)).status == 410
    async with engine.db.transaction(read_only=True) as session:
        count = select(func.count()).select_from(WebSession)
        assert (await session.execute(count)).scalar_one() == 1


async def test_an_expired_link_is_refused(client: TestClient, engine: Engine, org: Org) -> None:
    olga = org.people["olga"].id
    async with engine.db.transaction() as session:
        links = LoginLinks(session)
        expired = await links.create(olga, ADMIN, now=utcnow() - timedelta(minutes=11), ttl=TTL)
        almost = await links.create(olga, ADMIN, now=utcnow() - timedelta(minutes=9), ttl=TTL)
    page = await client.get(f"/admin/login/{almost}")
    assert page.status == 200
    csrf = form_csrf(await page.text())
    assert (await client.get(f"/admin/login/{expired}")).status == 410
    response = await client.post(f"/admin/login/{expired}", data={"csrf": csrf})
    assert response.status == 410
    assert (await client.get("/admin", allow_redirects=False)).status == 302
    used = await client.post(f"/admin/login/{almost}", data={"csrf": csrf}, allow_redirects=False)
    assert used.status == 303


async def test_a_link_needs_the_pre_login_cookie(
    client: TestClient, engine: Engine, org: Org
) -> None:
    """A login form posted from another site (no pre-login cookie) is refused: login CSRF."""
    path = await login_link(engine, org.people["olga"])
    html = await (await client.get(path)).text()
    client.session.cookie_jar.clear()
    response = await client.post(path, data={"csrf": form_csrf(html)}, allow_redirects=False)
    assert response.status == 403
    fresh = await client.get(path)  # the link was not used up
    assert fresh.status == 200


async def test_a_constituent_gets_no_link_and_no_session(
    client: TestClient, engine: Engine, org: Org
) -> None:
    path = await login_link(engine, org.people["emp0"])  # made by hand, as an attacker might
    html = await (await client.get(path)).text()
    response = await client.post(path, data={"csrf": form_csrf(html)}, allow_redirects=False)
    assert response.status == 410
    assert "achterban_admin" not in response.cookies


async def test_logout_ends_the_session_on_the_server(
    client: TestClient, engine: Engine, org: Org
) -> None:
    csrf = await log_in(client, engine, org.people["olga"])
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/admin"))["achterban_admin"]
    out = await client.post("/admin/logout", data={"csrf": csrf})
    assert out.status == 200
    assert (await client.get("/admin", allow_redirects=False)).status == 302
    # Replaying the old cookie does not help: the session is gone on the server.
    client.session.cookie_jar.update_cookies({"achterban_admin": cookie.value})
    assert (await client.get("/admin", allow_redirects=False)).status == 302


async def test_sessions_expire_on_the_server(client: TestClient, engine: Engine, org: Org) -> None:
    await log_in(client, engine, org.people["olga"])
    async with engine.db.transaction() as session:
        await session.execute(update(WebSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = await client.get("/admin", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/admin/login"


async def test_a_removed_role_locks_out_at_once(
    client: TestClient, engine: Engine, org: Org
) -> None:
    await log_in(client, engine, org.people["olga"])
    async with engine.db.transaction() as session:
        await engine.services(session).people.set_roles(org.people["olga"].id, set())
    assert (await client.get("/admin")).status == 403


async def test_secure_cookie_when_the_public_url_is_https(
    settings: Settings, engine: Engine, org: Org
) -> None:
    https = settings.model_copy(update={"public_url": "https://or.example"})
    async with client_for(https) as client:
        path = await login_link(engine, org.people["olga"])
        landing = await client.get(path)
        pre = landing.cookies["achterban_pre"]
        assert pre["secure"] and pre["httponly"]
        # The test server speaks plain http, so the jar keeps Secure cookies back: send it.
        used = await client.post(
            path,
            data={"csrf": form_csrf(await landing.text())},
            headers={"Cookie": f"achterban_pre={pre.value}"},
            allow_redirects=False,
        )
        assert used.status == 303
        assert used.cookies["achterban_admin"]["secure"]


async def test_dashboard_command_gives_a_working_link(
    client: TestClient, engine: Engine, org: Org
) -> None:
    await org.say("mo", "dashboard")  # a moderator may use the dashboard too
    reply = (await org.last("mo")).text
    url = next(word for word in reply.split() if "/admin/login/" in word)
    assert "10" in reply
    path = path_of(url)
    html = await (await client.get(path)).text()
    used = await client.post(path, data={"csrf": form_csrf(html)}, allow_redirects=False)
    assert used.status == 303
    # A moderator sees the overview but not the OR's pages.
    assert (await client.get("/admin")).status == 200
    assert (await client.get("/admin/people")).status == 403


async def test_dashboard_command_refuses_constituents(engine: Engine, org: Org) -> None:
    await org.say("emp0", "dashboard")
    reply = (await org.last("emp0")).text
    assert "/admin/login/" not in reply and "dashboard" in reply.lower()
    async with engine.db.transaction(read_only=True) as session:
        links = await session.execute(select(func.count()).select_from(AuditEntry))
        assert links.scalar_one() == 0


def _cli_env(settings: Settings) -> dict[str, str]:
    return {
        "ACHTERBAN_DATABASE_URL": settings.db_url,
        "ACHTERBAN_DATA_DIR": str(settings.data_dir),
        "ACHTERBAN_PUBLIC_URL": "https://or.example",
    }


def test_cli_login_link_and_invite(settings: Settings, org: Org) -> None:
    # Registered as the lead does in bot/cli/main.py.
    cli = typer.Typer()
    cli.add_typer(web_app, name="web")
    cli.add_typer(admin_app, name="admin")
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(cli, list(args), env=_cli_env(settings))

    result = run("admin", "login-link", "olga@example.org")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1].startswith("https://or.example/admin/login/")
    refused = run("admin", "login-link", "emp0@example.org")
    assert refused.exit_code == 1 and "/admin/login/" not in refused.stdout
    unknown = run("admin", "login-link", "nobody@example.org")
    assert unknown.exit_code == 1
    invite = run("web", "invite", "emp0@example.org")
    assert invite.exit_code == 0, invite.output
    assert invite.stdout.strip().splitlines()[-1].startswith("https://or.example/chat/join/")


async def test_web_sessions_repository_finds_only_live_sessions(engine: Engine, org: Org) -> None:
    now = utcnow()
    async with engine.db.transaction() as session:
        sessions = WebSessions(session)
        token = await sessions.open(org.people["olga"].id, ADMIN, now=now, ttl=timedelta(hours=1))
        assert await sessions.find(token, ADMIN, now=now) is not None
        assert await sessions.find(token, "chat", now=now) is None
        assert await sessions.find(token, ADMIN, now=now + timedelta(hours=2)) is None
        assert await sessions.find("forged", ADMIN, now=now) is None
