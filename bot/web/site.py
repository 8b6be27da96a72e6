"""The dashboard's frame: who is asking (session), may they (role), is the form theirs (CSRF).

Every /admin view is wrapped by `Site.guard`: without a session a page request goes to the
login page and anything else gets 403; a person without the needed role gets 403, not the
page; a POST without a valid CSRF token gets 403 before the view runs. Roles are read on every
request, so removing someone's role locks them out at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from aiohttp import web

from bot.engine import Engine
from bot.i18n import normalise_language
from bot.text import ascii_int
from bot.web.auth import ADMIN_COOKIE, CSRF_FIELD, Visitor, csrf_valid, load_visitor
from bot.web.render import page
from storage.db import Database
from storage.web import ADMIN

Need = Literal["view", "or", "moderate", "admin"]
ViewHandler = Callable[[web.Request, Visitor], Awaitable[web.StreamResponse]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOGIN_PAGE = "/admin/login"


def allowed(visitor: Visitor, need: Need) -> bool:
    if need == "admin":
        return visitor.is_admin
    if need == "or":
        return visitor.is_or_member
    if need == "moderate":
        return visitor.is_moderator
    return bool(visitor.roles & {"or_member", "moderator", "admin"})


def browser_language(request: web.Request) -> str:
    first = request.headers.get("Accept-Language", "").split(",")[0].split(";")[0]
    return normalise_language(first.strip() or None)


class Site:
    """What every dashboard view needs: the engine (store, settings, clock) and the frame."""

    def __init__(self, engine: Engine, *, read_db: Database | None = None) -> None:
        self.engine = engine
        self.db = engine.db
        # Pages that only show results (and are never where a form's redirect lands: those
        # read what was just written) read here: the read replica when one is configured
        # (ACHTERBAN_READ_DATABASE_URL), else the primary. It may lag by a few seconds.
        self.read_db = read_db or engine.db
        self.settings = engine.settings
        self.timezone = engine.timezone

    def now(self) -> Any:
        return self.engine.clock()

    async def visitor(self, request: web.Request) -> Visitor | None:
        return await load_visitor(
            request, self.db, self.settings, cookie=ADMIN_COOKIE, kind=ADMIN, now=self.now()
        )

    def render(
        self,
        template: str,
        visitor: Visitor | None,
        *,
        lang: str | None = None,
        status: int = 200,
        **context: Any,
    ) -> web.Response:
        return page(
            template,
            lang or (visitor.lang if visitor else "nl"),
            self.timezone,
            status=status,
            visitor=visitor,
            csrf=visitor.csrf if visitor else "",
            **context,
        )

    def refuse(
        self, request: web.Request, visitor: Visitor | None, status: int = 403
    ) -> web.Response:
        lang = visitor.lang if visitor else browser_language(request)
        key = "web.error.not_found" if status == 404 else "web.error.forbidden"
        return self.render("error.html", visitor, lang=lang, status=status, message_key=key)

    def guard(self, need: Need, view: ViewHandler, *, check_form: bool = True) -> Handler:
        """Wrap a view. With `check_form` False the view checks the CSRF token itself (a
        multipart upload, whose token is read from the stream before anything else)."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            visitor = await self.visitor(request)
            if visitor is None:
                if request.method in ("GET", "HEAD"):
                    raise web.HTTPFound(LOGIN_PAGE)
                return self.refuse(request, None)
            if not allowed(visitor, need):
                return self.refuse(request, visitor)
            if request.method == "POST" and check_form:
                form = await request.post()
                if not csrf_valid(self.settings, visitor.token, form.get(CSRF_FIELD)):
                    return self.refuse(request, visitor)
            return await view(request, visitor)

        return guarded


def int_param(request: web.Request, name: str) -> int:
    """A numeric path parameter; anything else is a 404, never a 500."""
    number = ascii_int(request.match_info.get(name, ""))
    if number is None:
        raise web.HTTPNotFound()
    return number
