"""Opening a personal web chat invitation: a page with a button, then a session.

As with dashboard links, opening the link (GET) only shows the button; pressing it (POST)
uses the invitation, so a link preview or a mail scanner cannot use it up. The form's CSRF
token is bound to a pre-login cookie, so another site cannot log a browser into someone
else's chat.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.engine import Engine
from bot.web.auth import (
    CHAT_COOKIE,
    CSRF_FIELD,
    PRE_COOKIE,
    clear_cookie,
    csrf_token,
    csrf_valid,
    open_session,
    pre_session,
    remember_pre_session,
    session_ttl,
    set_cookie,
)
from bot.web.render import page, see_other
from bot.web.site import browser_language
from storage.audit import audit
from storage.models import Person
from storage.people import People
from storage.web import CHAT, LoginLinks, token_hash

MAX_TOKEN = 100
Greeter = Callable[[Person, str], Awaitable[None]]


class JoinViews:
    def __init__(self, engine: Engine, *, greet: Greeter) -> None:
        self.engine = engine
        self.greet = greet

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/chat/join/{token}", self.invitation),
            web.post("/chat/join/{token}", self.accept),
        ]

    def _refused(self, request: web.Request) -> web.Response:
        return page("chat_closed.html", browser_language(request), self.engine.timezone, status=410)

    async def invitation(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        person = None
        if len(token) <= MAX_TOKEN:
            async with self.engine.db.transaction(read_only=True) as session:
                link = await LoginLinks(session).peek(token, CHAT, now=self.engine.clock())
                person = await People(session).get(link.person_id) if link else None
        if person is None or person.forgotten_at is not None:
            return self._refused(request)
        pre, is_new = pre_session(request)
        response = page(
            "chat_join.html",
            person.language,
            self.engine.timezone,
            name=person.name,
            action=request.path,
            form_csrf=csrf_token(self.engine.settings, pre),
        )
        if is_new:
            remember_pre_session(response, self.engine.settings, pre)
        return response

    async def accept(self, request: web.Request) -> web.StreamResponse:
        settings = self.engine.settings
        form = await request.post()
        if not csrf_valid(settings, request.cookies.get(PRE_COOKIE), form.get(CSRF_FIELD)):
            return web.Response(status=403, text="forbidden")
        token = request.match_info["token"]
        if len(token) > MAX_TOKEN:
            return self._refused(request)
        now = self.engine.clock()
        async with self.engine.db.transaction() as session:
            person_id = await LoginLinks(session).redeem(token, CHAT, now=now)
            person = await People(session).get(person_id) if person_id is not None else None
            session_token = None
            if person is not None and person.forgotten_at is None:
                session_token = await open_session(session, person.id, CHAT, now=now)
                await audit(session, "web.chat_joined", actor_id=person.id)
        if person is None or session_token is None:
            return self._refused(request)
        await self.greet(person, token_hash(session_token)[:16])
        response = see_other("/chat")
        _server, cookie_life = session_ttl(CHAT)
        set_cookie(
            response, settings, CHAT_COOKIE, session_token, path="/chat", max_age=cookie_life
        )
        clear_cookie(response, PRE_COOKIE, path="/")
        raise response
