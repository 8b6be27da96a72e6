"""Opening a personal web chat invitation: a page with a button, then a session.

As with dashboard links, opening the link (GET) only shows the button; pressing it (POST)
uses the invitation, so a link preview or a mail scanner cannot use it up. The form's CSRF
token is bound to a pre-login cookie, so another site cannot log a browser into someone
else's chat.

An invitation printed by an admin (bot/usecases/access.py) says so on this page and again in
the chat: who made it, and when. The join is audited with who printed the invitation, since
whoever holds a printed invitation may not be the person it names.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy import select

from bot.engine import Engine
from bot.messages import Outgoing, Purpose
from bot.text import first_name
from bot.usecases.access import PrintedBy, announcement, printed_by
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
from storage.models import ChannelAccount, Person
from storage.outbox import Outbox, outbox_row
from storage.people import People
from storage.web import CHAT, WEB_CHANNEL, LoginLinks, token_hash

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
        person, printed = None, None
        if len(token) <= MAX_TOKEN:
            async with self.engine.db.transaction(read_only=True) as session:
                link = await LoginLinks(session).peek(token, CHAT, now=self.engine.clock())
                person = await People(session).get(link.person_id) if link else None
                printed = await printed_by(session, token) if link else None
        if person is None or person.forgotten_at is not None:
            return self._refused(request)
        pre, is_new = pre_session(request)
        lang = person.language or "nl"
        response = page(
            "chat_join.html",
            lang,
            self.engine.timezone,
            name=first_name(person.name),
            printed=announcement(lang, printed, self.engine.timezone) if printed else None,
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
            session_token, printed = None, None
            if person is not None and person.forgotten_at is None:
                session_token = await open_session(session, person.id, CHAT, now=now)
                printed = await printed_by(session, token)
                # Whoever holds a printed invitation may not be the person it names: say so.
                extra: dict[str, Any] = {"printed": True} if printed is not None else {}
                await audit(session, "web.chat_joined", actor_id=person.id, **extra)
        if person is None or session_token is None:
            return self._refused(request)
        await self.greet(person, token_hash(session_token)[:16])
        if printed is not None:
            await self._announce(person, printed)
        response = see_other("/chat")
        _server, cookie_life = session_ttl(CHAT)
        set_cookie(
            response, settings, CHAT_COOKIE, session_token, path="/chat", max_age=cookie_life
        )
        clear_cookie(response, PRE_COOKIE, path="/")
        raise response

    async def _announce(self, person: Person, printed: PrintedBy) -> None:
        """Tell the person in the chat who made the printed invitation they opened, and when.

        Queued for the web chat account the greeting has just linked; the chat page delivers
        it when the browser arrives there."""
        lang = person.language or "nl"
        text = announcement(lang, printed, self.engine.timezone)
        message = Outgoing(text=text, purpose=Purpose.NOTICE)
        now = self.engine.clock()
        async with self.engine.db.transaction() as session:
            stmt = select(ChannelAccount.platform_id).where(
                ChannelAccount.person_id == person.id, ChannelAccount.channel == WEB_CHANNEL
            )
            rows = [
                outbox_row(WEB_CHANNEL, account, person.id, message, now=now)
                for account in (await session.execute(stmt)).scalars()
            ]
            await Outbox(session).add_many(rows)
