"""The web chat's messages as HTML, and the page's own texts in the person's language.

History: the mailbox keeps the newest messages of a person (storage/web.py), so the chat shows
them again when reopened. A message whose buttons were used (pressed here, replaced by the
bot's answer to them, or a poll's buttons once the person voted, also by typing, or the poll
closed) is shown without its buttons: a question is answered once on screen.
A sealed message is opened only to be rendered for its own person; one sealed under a
rotated secret key cannot be opened and is left out.

Page texts: the page marks each of its own texts with `data-t` (a catalogue key); after a
language change the JSON answer carries those texts in the new language and chat.js swaps
them in place, so the page follows without a reload.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from bot.i18n import t
from bot.seal import Sealer
from bot.text import first_name
from bot.usecases.polls import parse_vote
from bot.web.chat_open import OpenItem
from bot.web.render import render_text
from storage.models import Person
from storage.web import ANSWERED
from storage.web_models import WebMessage

# The page's own texts that change with the language (see chat.html, chat_base.html).
PAGE_KEYS = (
    "web.chat.title",
    "web.chat.brand",
    "web.chat.leave",
    "web.chat.log_label",
    "web.chat.you",
    "web.chat.message_label",
    "web.chat.photo_label",
    "web.chat.send",
    "web.skip",
    "webchat.greeting_intro",
    "webchat.open_title",
)


def page_texts(lang: str, person: Person) -> dict[str, str]:
    """Every `data-t` text of the chat page in `lang` (the greeting with the first name)."""
    texts = {key: t(lang, key) for key in PAGE_KEYS}
    texts["webchat.greeting"] = t(lang, "webchat.greeting", name=first_name(person.name))
    return texts


def open_html(lang: str, timezone: ZoneInfo, items: Sequence[OpenItem], csrf: str) -> str:
    """The "open for you" panel's list (its own texts included), for the page and for chat.js:
    one button per kind of thing still to do (two open polls share "Show polls")."""
    asks: dict[str, OpenItem] = {}
    for item in items:
        if not item.done:
            asks.setdefault(item.button, item)
    return render_text(
        "chat_open.html",
        lang,
        timezone,
        items=items,
        asks=list(asks.values()),
        csrf=csrf,
        event=secrets.token_hex(8),
    )


Opened = list[tuple[WebMessage, dict[str, Any]]]


def open_all(messages: Sequence[WebMessage], sealer: Sealer) -> Opened:
    """Each message with its payload opened; one sealed under a former secret key is left out
    (nobody can read it any more)."""
    opened: Opened = []
    for message in messages:
        try:
            opened.append((message, sealer.open(message.payload)))
        except ValueError:
            continue
    return opened


def poll_of(payload: dict[str, Any]) -> int | None:
    """The poll whose vote buttons this message carries, if it carries any."""
    polls = set()
    for choice in payload.get("choices") or ():
        vote = parse_vote(str(choice.get("payload", "")))
        if vote is not None:
            polls.add(vote[0])
    return polls.pop() if len(polls) == 1 else None


def polls_in(opened: Opened) -> set[int]:
    return {poll for _m, p in opened if (poll := poll_of(p)) is not None}


def settled_ids(opened: Opened, settled: set[int]) -> list[int]:
    """Messages whose poll buttons have had their day (voted, also by typing, or closed)."""
    return [m.id for m, p in opened if poll_of(p) in settled]


def render_messages(
    opened: Opened,
    *,
    settled: set[int],
    lang: str,
    timezone: ZoneInfo,
    csrf: str,
) -> list[dict[str, Any]]:
    """Each message's HTML; buttons left out where they were used, or where they vote in a
    poll that is `settled` for this person."""
    replaced = {str(p.get("replaces")) for _m, p in opened if p.get("replaces")}
    out = []
    for message, payload in opened:
        answered = (
            bool(message.payload.get(ANSWERED))
            or str(message.id) in replaced
            or poll_of(payload) in settled
        )
        html = render_text(
            "chat_message.html",
            lang,
            timezone,
            message=payload,
            message_id=message.id,
            answered=answered,
            csrf=csrf,
            event=secrets.token_hex(8),
        )
        out.append({"id": message.id, "html": html, "replaces": payload.get("replaces")})
    return out
