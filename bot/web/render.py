"""HTML pages from Jinja2 templates (autoescaped), with the headers every page carries.

The Content-Security-Policy allows scripts, styles, images and requests from this origin
only: the pages load nothing from elsewhere (no CDN, no web fonts), and an injected script
could neither run inline nor send data away.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from babel.dates import format_date, format_datetime
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bot.i18n import LANGUAGES, pick, t
from bot.labels import (
    action_name,
    channel_list,
    channel_name,
    detail_items,
    subject_name,
    unreachable_name,
)

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Login and invitation tokens are in paths: never hand them to another site.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def secure(response: web.StreamResponse) -> web.StreamResponse:
    response.headers.update(SECURITY_HEADERS)
    return response


# One way to write a moment per language, on every page: "4 dec. 2026 17:00" / "4 Dec 2026
# 17:00", in the organisation's time zone; a day without a time is the same without the time.
_LOCALE = {"nl": "nl_NL", "en": "en_GB"}
DATETIME_PATTERN = "d MMM y HH:mm"
DATE_PATTERN = "d MMM y"


def format_when(when: datetime | date | None, lang: str, timezone: ZoneInfo) -> str:
    if when is None:
        return ""
    locale = _LOCALE.get(lang, _LOCALE["nl"])
    if not isinstance(when, datetime):
        return format_date(when, DATE_PATTERN, locale=locale)
    return format_datetime(when, DATETIME_PATTERN, tzinfo=timezone, locale=locale)


def render_text(template: str, lang: str, timezone: ZoneInfo, **context: Any) -> str:
    return _env.get_template(template).render(
        lang=lang,
        languages=LANGUAGES,
        t=partial(t, lang),
        when=partial(format_when, lang=lang, timezone=timezone),
        channel_name=partial(channel_name, lang),
        channel_list=partial(channel_list, lang),
        action_name=partial(action_name, lang),
        subject_name=partial(subject_name, lang),
        detail_items=partial(detail_items, lang),
        unreachable_name=partial(unreachable_name, lang),
        # An author's text in the visitor's language: their English when they wrote one.
        pick=partial(pick, lang),
        **context,
    )


def page(
    template: str, lang: str, timezone: ZoneInfo, *, status: int = 200, **context: Any
) -> web.Response:
    html = render_text(template, lang, timezone, **context)
    response = web.Response(text=html, content_type="text/html", status=status)
    secure(response)
    return response


def see_other(location: str) -> web.HTTPSeeOther:
    """After a successful POST: show the result with a GET (reloading does not post again)."""
    return web.HTTPSeeOther(location, headers=SECURITY_HEADERS)
