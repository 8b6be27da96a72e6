"""Logging in with a one-time link, logging out, and choosing the dashboard's language.

Opening a link (GET) only shows a button; the link is used by pressing it (POST). Chat apps
and mail scanners fetch links to preview them, and must not use up a single-use link.
"""

from __future__ import annotations

from aiohttp import web

from bot.i18n import LANGUAGES
from bot.text import first_name
from bot.usecases.access import may_use_dashboard
from bot.web.auth import (
    ADMIN_COOKIE,
    CSRF_FIELD,
    PRE_COOKIE,
    Visitor,
    clear_cookie,
    csrf_token,
    csrf_valid,
    end_session,
    open_session,
    pre_session,
    remember_pre_session,
    session_ttl,
    set_cookie,
)
from bot.web.render import see_other
from bot.web.site import Site, browser_language
from storage.audit import audit
from storage.models import Person
from storage.people import People
from storage.web import ADMIN, LoginLinks

MAX_TOKEN = 100


class LoginViews:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[web.RouteDef]:
        site = self.site
        return [
            web.get("/admin/login", self.login_page),
            web.get("/admin/login/{token}", self.link_page),
            web.post("/admin/login/{token}", self.use_link),
            web.post("/admin/logout", site.guard("view", self.logout)),
            web.post("/admin/language", site.guard("view", self.language)),
        ]

    async def login_page(self, request: web.Request) -> web.StreamResponse:
        if await self.site.visitor(request) is not None:
            raise web.HTTPFound("/admin")
        return self.site.render("login.html", None, lang=browser_language(request))

    async def link_page(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        person = await self._link_person(token)
        if person is None:
            return self._link_refused(request)
        pre, is_new = pre_session(request)
        response = self.site.render(
            "login_link.html",
            None,
            lang=person.language,
            name=first_name(person.name),
            form_csrf=csrf_token(self.site.settings, pre),
            action=request.path,
        )
        if is_new:
            remember_pre_session(response, self.site.settings, pre)
        return response

    async def use_link(self, request: web.Request) -> web.StreamResponse:
        site = self.site
        form = await request.post()
        if not csrf_valid(site.settings, request.cookies.get(PRE_COOKIE), form.get(CSRF_FIELD)):
            return site.refuse(request, None)
        token = request.match_info["token"]
        if len(token) > MAX_TOKEN:
            return self._link_refused(request)
        now = site.now()
        async with site.db.transaction() as session:
            person_id = await LoginLinks(session).redeem(token, ADMIN, now=now)
            person = await People(session).get(person_id) if person_id is not None else None
            session_token = None
            # Roles are checked again now: one may have been taken away since the link was made.
            roles = await People(session).roles(person.id) if person is not None else set()
            if person is not None and person.forgotten_at is None and may_use_dashboard(roles):
                session_token = await open_session(session, person.id, ADMIN, now=now)
                await audit(session, "web.login", actor_id=person.id)
        if session_token is None:
            return self._link_refused(request)
        response = see_other("/admin")
        _server, cookie_life = session_ttl(ADMIN)
        set_cookie(
            response,
            site.settings,
            ADMIN_COOKIE,
            session_token,
            path="/admin",
            max_age=cookie_life,
        )
        clear_cookie(response, PRE_COOKIE, path="/")
        raise response

    async def _link_person(self, token: str) -> Person | None:
        if len(token) > MAX_TOKEN:
            return None
        async with self.site.db.transaction(read_only=True) as session:
            link = await LoginLinks(session).peek(token, ADMIN, now=self.site.now())
            return await People(session).get(link.person_id) if link else None

    def _link_refused(self, request: web.Request) -> web.Response:
        return self.site.render(
            "link_refused.html", None, lang=browser_language(request), status=410
        )

    async def logout(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        await end_session(self.site.db, visitor.token)
        async with self.site.db.transaction() as session:
            await audit(session, "web.logout", actor_id=visitor.person.id)
        response = self.site.render("logged_out.html", None, lang=visitor.lang)
        clear_cookie(response, ADMIN_COOKIE, path="/admin")
        return response

    async def language(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        form = await request.post()
        lang = form.get("lang")
        if isinstance(lang, str) and lang in LANGUAGES:
            async with self.site.db.transaction() as session:
                person = await session.get(Person, visitor.person.id)
                if person is not None:
                    person.language = lang
        back = form.get("next")
        # Only a path of the dashboard itself: never an open redirect.
        target = back if isinstance(back, str) and back.startswith("/admin") else "/admin"
        raise see_other(target if "//" not in target and "\\" not in target else "/admin")
