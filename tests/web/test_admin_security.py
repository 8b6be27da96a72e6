"""Who may see and change what on /admin: sessions, roles, CSRF tokens, escaping, headers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp import FormData, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.config import Settings
from bot.engine import Engine
from storage.models import Person, Poll, Role, utcnow
from storage.web import ADMIN, WebSessions
from tests.e2e.support import build_app, log_in, set_roles
from tests.support.org import Org
from tests.support.polls import create_poll

PUBLIC = {"/admin/login", "/admin/login/{token}"}


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[tuple[TestClient, web.Application]]:
    app, _runtime = build_app(settings)
    async with TestClient(TestServer(app)) as client:
        yield client, app


def admin_routes(app: web.Application) -> list[tuple[str, str]]:
    """(method, concrete path) of every dashboard route that needs a session."""
    out = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        template = info.get("formatter") or info.get("path") or ""
        if not template.startswith("/admin") or template in PUBLIC or route.method == "HEAD":
            continue
        out.append((route.method, re.sub(r"\{[^}]+\}", "1", template)))
    return out


async def test_every_admin_route_needs_a_session(
    served: tuple[TestClient, web.Application], org: Org
) -> None:
    client, app = served
    routes = admin_routes(app)
    assert len(routes) >= 14, routes
    for method, path in routes:
        response = await client.request(method, path, allow_redirects=False)
        if method == "GET":
            assert response.status == 302, (method, path)
            assert response.headers["Location"] == "/admin/login"
        else:
            assert response.status == 403, (method, path)


async def _session_cookie(engine: Engine, person: Person, kind: str = ADMIN) -> str:
    async with engine.db.transaction() as session:
        return await WebSessions(session).open(
            person.id, kind, now=utcnow(), ttl=timedelta(hours=1)
        )


async def test_a_constituent_session_gets_403_everywhere(
    served: tuple[TestClient, web.Application], engine: Engine, org: Org
) -> None:
    client, app = served
    token = await _session_cookie(engine, org.people["emp0"])
    client.session.cookie_jar.update_cookies({"achterban_admin": token})
    for method, path in admin_routes(app):
        response = await client.request(method, path, allow_redirects=False)
        assert response.status == 403, (method, path)
        if method == "GET":
            assert "geen toegang" in await response.text()  # a page in their language


async def test_a_chat_session_is_no_dashboard_session(
    served: tuple[TestClient, web.Application], engine: Engine, org: Org
) -> None:
    client, _app = served
    token = await _session_cookie(engine, org.people["olga"], kind="chat")
    client.session.cookie_jar.update_cookies({"achterban_admin": token})
    assert (await client.get("/admin", allow_redirects=False)).status == 302


async def test_roles_limit_the_pages(
    served: tuple[TestClient, web.Application], engine: Engine, org: Org
) -> None:
    client, _app = served
    await log_in(client, engine, org.people["mo"])  # moderator: overview and polls only
    assert (await client.get("/admin/polls")).status == 200
    for path in ("/admin/people", "/admin/audit", "/admin/polls/new"):
        assert (await client.get(path)).status == 403, path
    client.session.cookie_jar.clear()
    csrf = await log_in(client, engine, org.people["olga"])  # OR member, not admin
    assert (await client.get("/admin/people")).status == 200
    roles = await client.post(
        f"/admin/people/{org.people['olga'].id}/roles",
        data={"csrf": csrf, "role_admin": "1", "role_or_member": "1"},
    )
    assert roles.status == 403
    async with engine.db.transaction(read_only=True) as session:
        stmt = select(Role.role).where(Role.person_id == org.people["olga"].id)
        assert set((await session.execute(stmt)).scalars()) == {"or_member"}


async def test_every_form_post_needs_the_csrf_token(
    served: tuple[TestClient, web.Application], engine: Engine, org: Org
) -> None:
    client, app = served
    olga = org.people["olga"]
    await set_roles(engine, olga, {"or_member", "admin"})
    await log_in(client, engine, olga)
    posts = [path for method, path in admin_routes(app) if method == "POST"]
    assert "/admin/polls" in posts and "/admin/people/roster" in posts
    for path in posts:
        response = await client.post(path, data={"question": "Q", "options": "a\nb"})
        assert response.status == 403, path
        wrong = await client.post(path, data={"csrf": "0" * 64, "question": "Q"})
        assert wrong.status == 403, path
    form = FormData()
    form.add_field(
        "roster", b"name,email,phone,department,location,language,roles\n", filename="r.csv"
    )
    upload = await client.post("/admin/people/roster", data=form)
    assert upload.status == 403
    async with engine.db.transaction(read_only=True) as session:
        assert (await session.execute(select(func.count()).select_from(Poll))).scalar_one() == 0
    assert (await client.get("/admin")).status == 200  # still logged in: nothing was done


async def test_script_in_user_text_is_shown_as_text(
    served: tuple[TestClient, web.Application], engine: Engine, org: Org
) -> None:
    client, _app = served
    evil = "<script>alert('x')</script>"
    poll_id, _options = await create_poll(engine, [evil, "<b>Nee</b>"], question=f"Vraag {evil}")
    async with engine.db.transaction() as session:
        person = await session.get(Person, org.people["emp0"].id)
        assert person is not None
        person.name = f"Emp {evil}"
        person.department = evil
    await org.say("emp0", "1")  # a named vote, so the breakdown shows the department
    await log_in(client, engine, org.people["olga"])
    for path in (f"/admin/polls/{poll_id}", f"/admin/polls/{poll_id}/live", "/admin/people"):
        html = await (await client.get(path)).text()
        assert "<script>alert" not in html and "<b>Nee" not in html, path
        assert "&lt;script&gt;alert(" in html, path


async def test_pages_carry_security_headers(
    served: tuple[TestClient, web.Application], engine: Engine, org: Org
) -> None:
    client, _app = served
    await log_in(client, engine, org.people["olga"])
    response = await client.get("/admin")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


async def test_language_switch_never_redirects_elsewhere(
    served: tuple[TestClient, web.Application], engine: Engine, org: Org
) -> None:
    client, _app = served
    csrf = await log_in(client, engine, org.people["olga"])
    for target in ("https://evil.example/", "//evil.example", "/admin//evil.example"):
        response = await client.post(
            "/admin/language",
            data={"csrf": csrf, "lang": "en", "next": target},
            allow_redirects=False,
        )
        assert response.status == 303 and response.headers["Location"] == "/admin", target
    page = await (await client.get("/admin")).text()
    assert 'lang="en"' in page and "Overview" in page
