"""The conversation model: a Turn (one event of one person) and Services (the stores).

Dialogs change rows through Services and queue replies on the Turn; the engine owns the
transaction and writes the queued replies to the outbox. Nothing here knows about platforms,
and nothing here knows which dialogs exist: that is the registry's (bot/registry.py), which
the composition root fills from its list of job modules (bot/app.py, JOB_MODULES).

What the person was last asked has one owner, storage/prompts.py: while a dialog runs, the
question the dialog kept in its state wins (the person is answering it, and a poll someone else
just opened must not take a "2" typed into a draft); outside a dialog, the newest outbox prompt
is the record (a fan-out writes rows, not the recipients' locked conversation rows). A dialog
begun by a button while another runs is stacked on it (`_stack` in the state) and the outer one
resumes, asking its question again, when the inner one ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Protocol
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from bot.choices import fold
from bot.errors import UserError
from bot.i18n import all_words
from bot.i18n import t as translate
from bot.messages import Choice, Incoming, Outgoing, Purpose
from storage.audit import audit
from storage.media import MediaFetcher, MediaStore
from storage.models import Conversation, Person
from storage.outbox import Outbox, addressed_rows
from storage.people import Accounts, People
from storage.polls import Polls
from storage.prompts import ASKED, Asked, last_asked, outbox_prompt, remember
from storage.reach import reach
from storage.retention import Retention
from storage.unit import Store, session_of

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.registry import Registry

CONSOLE = "console"
# The dialogs waiting under the running one, in its state JSON; deeper than this, the
# oldest is dropped (a runaway chain of buttons must not grow a row without end).
STACK = "_stack"
MAX_DEPTH = 4


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """The settings dialogs and jobs read, taken from Settings once per engine.

    Only what a dialog needs: no secrets, no connection strings. Frozen, so one instance is
    shared by every event's Services.
    """

    timezone: ZoneInfo
    membership: str
    public_url: str
    poll_reminder_hours: float
    media_max_bytes: int
    media_retention_days: float
    report_reminder_hours: float
    report_discard_hours: float
    retention: Retention
    # A guided dialog left unanswered this long ends when the person next writes.
    dialog_timeout: timedelta = timedelta(minutes=60)

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceSettings:
        return cls(
            timezone=ZoneInfo(settings.timezone),
            membership=settings.membership,
            public_url=settings.public_url,
            poll_reminder_hours=settings.poll_reminder_hours,
            media_max_bytes=settings.media_max_bytes,
            media_retention_days=settings.media_retention_days,
            report_reminder_hours=settings.report_reminder_hours,
            report_discard_hours=settings.report_discard_hours,
            retention=settings.retention,
            dialog_timeout=timedelta(minutes=settings.dialog_timeout_minutes),
        )


@dataclass
class Services:
    """The stores and settings a dialog may use, bound to one transaction.

    `store` is a session, or an event's Unit (storage/unit.py) whose ORM session is made the
    first time `session` (or a repository that needs it) is used: a vote needs none.
    """

    store: Store
    now: datetime
    settings: ServiceSettings
    # A keyed hash (bot/privacy.py) for what must be recognised but not stored in the clear;
    # no default, so that no caller can end up storing the clear text by leaving it out.
    pseudonym: Callable[[str], str]
    # Photos: where files go, and how a person's attachment is downloaded (through the
    # adapter of its channel; None switches photo reports off).
    media_store: MediaStore | None = None
    fetch_media: MediaFetcher | None = None

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
            tzinfo=self.settings.timezone,
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
        Who is reached where is storage.reach's rule, the same as a broadcast's: people with
        no channel account get a terminal (console) mailbox keyed by e-mail, so nothing sent
        to them is lost before they first use a channel; forgotten people get nothing.
        `prompt` remembers the choices, so a typed number answers this message.
        """

        def asks(outgoing: Outgoing) -> dict[str, Any] | None:
            return outbox_prompt(outgoing) if prompt and outgoing.choices else None

        queued = 0
        for start in range(0, len(person_ids), 500):
            chunk = list(person_ids[start : start + 500])
            people = {p.id: p for p in await self.people_by_ids(chunk)}
            messages = {pid: build(people[pid]) for pid in chunk if pid in people}
            wanted = [people[pid] for pid, outgoing in messages.items() if outgoing is not None]
            # Who is reached where: one rule for every fan-out (storage/reach.py).
            accounts = await reach(self.session, wanted, fallback=CONSOLE)
            rows = addressed_rows(messages, accounts, prompt=asks, now=self.now)
            await self.outbox.add_many(rows)
            queued += len(rows)
        return queued

    async def people_by_ids(self, ids: Iterable[int]) -> list[Person]:
        stmt = select(Person).where(Person.id.in_(list(ids)))
        return list((await self.session.execute(stmt)).scalars())


@dataclass
class Turn:
    """One inbound event of one known person, as a dialog sees it."""

    incoming: Incoming
    person: Person
    roles: set[str]
    services: Services
    conversation: Conversation
    # The dialogs, actions and commands of this application (bot/registry.py).
    registry: Registry
    choice: str | None = None
    # Each reply with, for a question outside any dialog, the prompt typed answers match.
    replies: list[tuple[Outgoing, dict[str, Any] | None]] = field(default_factory=list)
    # Set by a dialog whose replies repeat an anonymous act (bot/seal.py).
    sealed: bool = False
    # Set by the router while a button's action runs: a dialog it begins is stacked.
    acting: bool = False
    # An ask() queued in this turn (a later plain line does not replace it as the question).
    _asked_now: bool = field(default=False, init=False, repr=False)
    # A dialog below on the stack took over; it asks again at the end of the turn.
    _resuming: bool = field(default=False, init=False, repr=False)

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

    def refusal(self, refused: UserError) -> str:
        """A use case's refusal in the person's language, times in their words."""
        params = {
            k: self.services.format_time(v, self.lang) if isinstance(v, datetime) else v
            for k, v in refused.params.items()
        }
        return self.t(refused.key, **params)

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
        a typed number or label answers what they saw last (in a dialog, use ask()).

        In a dialog the reply becomes what was last asked (storage/prompts.py), so a dialog
        interrupted by another can ask it again; a plain line after this turn's ask() (a hint,
        a refusal) does not push the question aside, and neither do the closing words of a
        dialog that has just ended and handed back to the one below it.
        """
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
        in_dialog = self.conversation.dialog is not None
        prompt = bool(choices) and not in_dialog
        self.replies.append((outgoing, outbox_prompt(outgoing) if prompt else None))
        if in_dialog and not self._resuming and (choices or not self._asked_now):
            self._remember(outgoing, typed=False)

    def ask(self, text: str, choices: Sequence[Choice], *, multiple: bool = False) -> None:
        """Reply with choices that a typed number or label may also answer, in this dialog."""
        self.reply(text, choices, multiple=multiple)
        if self.conversation.dialog is not None and not self._resuming:
            self._remember(self.replies[-1][0], typed=True)
            self._asked_now = True

    def set(self, **values: Any) -> None:
        """Update the dialog state (a fresh dict, so the JSON column is seen as changed).

        What was last asked stays: a step that asks and then records its step (ask(), then
        set()) still takes a typed answer. The next reply replaces it instead."""
        self._set_state({**self.state, **values})

    def _remember(self, outgoing: Outgoing, *, typed: bool) -> None:
        # A sealed reply repeats an anonymous act: its text is not kept next to the person.
        self._set_state(remember(self.state, outgoing, typed=typed, keep_text=not self.sealed))

    def _set_state(self, state: dict[str, Any]) -> None:
        self.conversation.state = state

    async def last_asked(self) -> Asked | None:
        """What a typed answer of this turn answers (storage/prompts.py decides where)."""
        conversation = self.conversation
        return await last_asked(
            self.services.store, self.person.id, conversation.dialog, conversation.state
        )

    async def begin(self, name: str, **state: Any) -> None:
        """Start dialog `name` and run its start step.

        Started by a button or action while another dialog runs (a moderator's 'reject' in the
        middle of a poll draft), the running dialog is pushed, state and all, onto the stack
        (`_stack` in the state JSON) and resumes when this one ends. Started by a dialog
        itself (a hand-over) or again by the same name, it replaces the running one; the stack
        below stays.
        """
        dialog = self.registry.dialogs[name]
        current = self.conversation.dialog
        stack = list(self.state.get(STACK, [])) if current else []
        if current and current != name and self.acting:
            outer = {k: v for k, v in self.state.items() if k != STACK}
            stack = [*stack, {"dialog": current, "state": outer}][-MAX_DEPTH:]
        self.conversation.dialog = name
        self._set_state({**state, STACK: stack} if stack else dict(state))
        self._resuming = self._asked_now = False
        await dialog.start(self)

    def end(self) -> None:
        """End the running dialog; the one below it on the stack (if any) takes over again,
        and asks its question again once this turn's replies are queued (`resume`)."""
        stack = list(self.state.get(STACK, []))
        while stack:
            outer = stack.pop()
            if outer.get("dialog") in self.registry.dialogs:
                self.conversation.dialog = outer["dialog"]
                state = dict(outer.get("state") or {})
                self._set_state({**state, STACK: stack} if stack else state)
                self._resuming = True
                return
        self.conversation.dialog = None
        self._set_state({})

    def expire_if_idle(self) -> bool:
        """End a dialog that waited longer than the timeout for this message, before the
        message is read: one line says so, and the message is then read as if no dialog ran
        (a dialog stacked below goes too, but a draft that keeps its own time takes over and
        asks its question again). True when nothing more is to be done: a draft took over
        (the message was meant for the stopped dialog: read against the draft, it would be
        misread), or the message was a cancel word, and what it would cancel has just been
        stopped (read without a dialog, 'stop' would mean something else).

        The row's `updated_at` is when the dialog last heard from the person (`touch`), on
        the engine's clock. Dialogs whose drafts a periodic job reminds and discards keep
        their own time (Registry.keep_own_time)."""
        conversation = self.conversation
        name = conversation.dialog
        if name is None or name in self.registry.own_time:
            return False
        limit = self.services.settings.dialog_timeout
        since = conversation.updated_at
        if since is None or self.services.now - since <= limit:
            return False
        dialog = self.registry.dialogs.get(name)
        title = self.t(getattr(dialog, "title_key", "dialog.title.generic"))
        stack = list(self.state.get(STACK, []))
        kept = [i for i, outer in enumerate(stack) if outer.get("dialog") in self.registry.own_time]
        conversation.dialog = None
        self._set_state({STACK: stack[: kept[-1] + 1]} if kept else {})
        minutes = max(1, round(limit.total_seconds() / 60))
        self.reply(self.t("dialog.timed_out", count=minutes, dialog=title))
        if kept:
            self.end()  # the newest such draft below takes over
            self.resume()
            return True
        return not self.incoming.choice and fold(self.text) in all_words("commands.cancel")

    def touch(self) -> None:
        """After the turn: a dialog still running heard from the person now."""
        if self.conversation.dialog is not None:
            self.conversation.updated_at = self.services.now
            # Written even when equal: else the column's onupdate (the wall clock) would be.
            flag_modified(self.conversation, "updated_at")

    def resume(self) -> None:
        """After the turn: a dialog that took over again from an ended one asks its question
        again (what it last asked, kept in its state), after the ended one's last words."""
        if not self._resuming:
            return
        self._resuming = False
        asked = self.state.get(ASKED)
        again = Asked.from_json(asked).outgoing() if asked else None
        if again is not None:
            self.replies.append((again, None))


class Dialog(Protocol):
    """A named state machine; its state is plain JSON in the person's conversation row."""

    name: ClassVar[str]

    async def start(self, turn: Turn) -> None:
        """Begin: ask the first question."""

    async def step(self, turn: Turn) -> None:
        """Handle the person's next message (turn.choice is set when it matched a choice)."""
