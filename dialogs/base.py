"""What every dialog works with: a Turn (one event of one person) and Services (the stores).

Dialogs change rows through Services and queue replies on the Turn; the engine owns the
transaction and writes the queued replies to the outbox. Nothing here knows about platforms.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, ClassVar, Protocol
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import t as translate
from bot.messages import PAYLOAD_JOIN, Choice, Incoming, Outgoing, Purpose
from bot.text import ascii_int
from storage.audit import audit
from storage.media import MediaFetcher, MediaStore
from storage.models import Conversation, Person
from storage.outbox import Outbox, outbox_row
from storage.people import Accounts, People
from storage.polls import Polls
from storage.retention import Retention
from storage.unit import Store, session_of

CONSOLE = "console"


@dataclass
class Services:
    """The stores and settings a dialog may use, bound to one transaction.

    `store` is a session, or an event's Unit (storage/unit.py) whose ORM session is made the
    first time `session` (or a repository that needs it) is used: a vote needs none.
    """

    store: Store
    now: datetime
    timezone: ZoneInfo
    membership: str = "roster"
    poll_reminder_hours: float = 24.0
    public_url: str = "http://127.0.0.1:8080"
    # Photos: where files go, how a person's attachment is downloaded (through the adapter of
    # its channel; None switches photo reports off), and the limits that apply.
    media_store: MediaStore | None = None
    fetch_media: MediaFetcher | None = None
    media_max_bytes: int = 20 * 1024 * 1024
    media_retention_days: float = 30.0
    report_reminder_hours: float = 4.0
    report_discard_hours: float = 24.0
    retention: Retention = field(default_factory=Retention)
    # A keyed hash (bot/privacy.py) for what must be recognised but not stored in the clear.
    pseudonym: Callable[[str], str] = field(default=lambda text: text)

    @property
    def session(self) -> AsyncSession:
        return session_of(self.store)

    @cached_property
    def people(self) -> People:
        return People(self.session)

    @cached_property
    def accounts(self) -> Accounts:
        return Accounts(self.session)

    @cached_property
    def polls(self) -> Polls:
        return Polls(self.store)

    @cached_property
    def outbox(self) -> Outbox:
        return Outbox(self.session)

    async def audit(
        self,
        action: str,
        *,
        actor_id: int | None = None,
        subject: str | None = None,
        **details: Any,
    ) -> None:
        await audit(self.session, action, actor_id=actor_id, subject=subject, **details)

    def format_time(self, when: datetime, lang: str) -> str:
        return format_datetime(
            when,
            "EEEE d MMMM y HH:mm",
            tzinfo=self.timezone,
            locale="nl_NL" if lang == "nl" else "en_GB",
        )

    async def notify_many(
        self,
        person_ids: Sequence[int],
        build: Callable[[Person], Outgoing | None],
        *,
        prompt: bool = False,
    ) -> int:
        """Queue a message per person on their preferred channel; returns how many were queued.

        `build` gets the person (for their language) and may return None to skip them.
        People with no channel account get a terminal (console) mailbox keyed by e-mail, so
        nothing sent to them is lost before they first use a channel.
        `prompt` remembers the choices, so a typed number answers this message.
        """
        queued = 0
        for start in range(0, len(person_ids), 500):
            chunk = list(person_ids[start : start + 500])
            accounts = await self.accounts.preferred_many(chunk)
            people = {p.id: p for p in await self.people_by_ids(chunk)}
            rows = []
            for pid in chunk:
                person = people.get(pid)
                if person is None or person.forgotten_at is not None:
                    continue
                outgoing = build(person)
                if outgoing is None:
                    continue
                account = accounts.get(pid)
                if account is None:
                    if not person.email:
                        continue
                    account = await self.accounts.link(pid, CONSOLE, person.email.lower())
                row = outbox_row(account.channel, account.platform_id, pid, outgoing, now=self.now)
                if prompt and outgoing.choices:
                    row["prompt"] = prompt_of(outgoing)
                rows.append(row)
            await self.outbox.add_many(rows)
            queued += len(rows)
        return queued

    async def people_by_ids(self, ids: Iterable[int]) -> list[Person]:
        stmt = select(Person).where(Person.id.in_(list(ids)))
        return list((await self.session.execute(stmt)).scalars())


def prompt_of(outgoing: Outgoing) -> dict[str, Any]:
    return {
        "choices": [[c.label, c.payload] for c in outgoing.choices],
        "multiple": outgoing.multiple,
    }


def fold(text: str) -> str:
    """Case- and accent-insensitive form for matching typed answers and commands."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().strip())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _words(text: str) -> str:
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text).split())


def match_choice(
    text: str, choices: Sequence[Choice], *, multiple: bool = False, fragment: bool = False
) -> str | None:
    """Map a typed answer to a choice payload: a number ("2"), a label ("Ja"), for multiple
    choice several numbers/labels ("1 3", "1, 3"), and with `fragment` whole words that fit
    one label only ("restaurant?" for "In een restaurant"). None when nothing matches."""
    typed = fold(text)
    if not typed or not choices:
        return None
    by_label = {fold(c.label): c.payload for c in choices}
    if typed in by_label:
        return by_label[typed]
    words = _words(typed)
    if fragment and len(words) >= 3:
        fits = [c.payload for c in choices if f" {words} " in f" {_words(fold(c.label))} "]
        if len(fits) == 1:
            return fits[0]
    # Numbers as typed, before folding (NFKD makes "²" a "2"): ASCII digits only, so "١" or
    # "²" is no answer rather than a misread one.
    raw = text.strip()
    if typed.isdigit():
        n = ascii_int(raw, low=1, high=len(choices))
        return choices[n - 1].payload if n is not None else None
    if multiple:
        parts = [p for p in raw.replace(",", " ").replace(";", " ").split() if p]
        numbers = [ascii_int(p, low=1, high=len(choices)) for p in parts]
        if parts and all(n is not None for n in numbers):
            picked = sorted({n for n in numbers if n is not None})
            return PAYLOAD_JOIN.join(choices[n - 1].payload for n in picked)
        labels = [fold(p) for p in text.replace(";", ",").split(",")]
        if len(labels) > 1 and all(lbl in by_label for lbl in labels):
            return PAYLOAD_JOIN.join(by_label[lbl] for lbl in labels)
    return None


@dataclass
class Turn:
    """One inbound event of one known person, as a dialog sees it."""

    incoming: Incoming
    person: Person
    roles: set[str]
    services: Services
    conversation: Conversation
    choice: str | None = None
    # Each reply with, for a question outside any dialog, the prompt typed answers match.
    replies: list[tuple[Outgoing, dict[str, Any] | None]] = field(default_factory=list)
    # Set by a dialog whose replies repeat an anonymous act (bot/seal.py).
    sealed: bool = False

    @property
    def lang(self) -> str:
        return self.person.language or "nl"

    @property
    def text(self) -> str:
        return self.incoming.text.strip()

    @property
    def state(self) -> dict[str, Any]:
        return self.conversation.state

    @property
    def is_or_member(self) -> bool:
        return bool(self.roles & {"or_member", "admin"})

    def t(self, key: str, **params: Any) -> str:
        return translate(self.lang, key, **params)

    def reply(
        self,
        text: str,
        choices: Sequence[Choice] = (),
        *,
        multiple: bool = False,
        purpose: Purpose = Purpose.REPLY,
        replaces: str | None = None,
        images: Sequence[str] = (),
    ) -> None:
        """Queue a reply. Choices offered outside a dialog become the person's latest prompt:
        a typed number or label answers what they saw last (in a dialog, use ask())."""
        outgoing = Outgoing(
            text=text,
            choices=tuple(choices),
            multiple=multiple,
            submit_label=self.t("common.submit") if multiple else None,
            purpose=purpose,
            replaces=replaces,
            images=tuple(images),
            sealed=self.sealed,
        )
        prompt = bool(choices) and self.conversation.dialog is None
        self.replies.append((outgoing, prompt_of(outgoing) if prompt else None))

    def ask(self, text: str, choices: Sequence[Choice], *, multiple: bool = False) -> None:
        """Reply with choices that a typed number or label may also answer, in this dialog."""
        self.reply(text, choices, multiple=multiple)
        self._set_state(
            {**self.state, "_choices": [[c.label, c.payload] for c in choices], "_multi": multiple}
        )

    def set(self, **values: Any) -> None:
        """Update the dialog state (a fresh dict, so the JSON column is seen as changed)."""
        new = {k: v for k, v in self.state.items() if k not in ("_choices", "_multi")}
        new.update(values)
        self._set_state(new)

    def _set_state(self, state: dict[str, Any]) -> None:
        self.conversation.state = state

    def dialog_choices(self) -> tuple[list[Choice], bool]:
        raw = self.state.get("_choices") or []
        return [Choice(label, payload) for label, payload in raw], bool(self.state.get("_multi"))

    async def begin(self, name: str, **state: Any) -> None:
        """Start dialog `name` (replacing any active one) and run its start step."""
        self.conversation.dialog = name
        self._set_state(dict(state))
        await DIALOGS[name].start(self)

    def end(self) -> None:
        self.conversation.dialog = None
        self._set_state({})


class Dialog(Protocol):
    """A named state machine; its state is plain JSON in the person's conversation row."""

    name: ClassVar[str]

    async def start(self, turn: Turn) -> None:
        """Begin: ask the first question."""

    async def step(self, turn: Turn) -> None:
        """Handle the person's next message (turn.choice is set when it matched a choice)."""


# Gets the whole payload (several joined by PAYLOAD_JOIN for a multi-select submission).
ActionHandler = Callable[[Turn, str], Awaitable[None]]

# Filled by the dialog modules at import (see dialogs/__init__.py).
DIALOGS: dict[str, Dialog] = {}
ACTIONS: dict[str, ActionHandler] = {}


def register(dialog: Dialog) -> Dialog:
    DIALOGS[dialog.name] = dialog
    return dialog


def action(prefix: str) -> Callable[[ActionHandler], ActionHandler]:
    """Register a handler for button payloads '<prefix>:…' (valid days later, in any state)."""

    def deco(fn: ActionHandler) -> ActionHandler:
        ACTIONS[prefix] = fn
        return fn

    return deco
