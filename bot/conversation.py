"""The conversation model: a Turn (one event of one person) and Services (the stores).

Dialogs change rows through Services and queue replies on the Turn; the engine owns the
transaction and writes the queued replies to the outbox. Nothing here knows about platforms,
and nothing here knows which dialogs exist: that is the registry's (bot/registry.py), which
the composition root fills from its list of job modules (bot/app.py, JOB_MODULES).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Protocol
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.choices import prompt_of
from bot.errors import UserError
from bot.i18n import t as translate
from bot.messages import Choice, Incoming, Outgoing, Purpose
from storage.audit import audit
from storage.media import MediaFetcher, MediaStore
from storage.models import Conversation, Person
from storage.outbox import Outbox, outbox_row
from storage.people import Accounts, People
from storage.polls import Polls
from storage.reach import reach
from storage.retention import Retention
from storage.unit import Store, session_of

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.registry import Registry

CONSOLE = "console"


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
        )


def _clear_text(text: str) -> str:
    return text


@dataclass
class Services:
    """The stores and settings a dialog may use, bound to one transaction.

    `store` is a session, or an event's Unit (storage/unit.py) whose ORM session is made the
    first time `session` (or a repository that needs it) is used: a vote needs none.
    """

    store: Store
    now: datetime
    settings: ServiceSettings
    # Photos: where files go, and how a person's attachment is downloaded (through the
    # adapter of its channel; None switches photo reports off).
    media_store: MediaStore | None = None
    fetch_media: MediaFetcher | None = None
    # A keyed hash (bot/privacy.py) for what must be recognised but not stored in the clear.
    pseudonym: Callable[[str], str] = _clear_text

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
        queued = 0
        for start in range(0, len(person_ids), 500):
            chunk = list(person_ids[start : start + 500])
            people = {p.id: p for p in await self.people_by_ids(chunk)}
            messages = {pid: build(people[pid]) for pid in chunk if pid in people}
            wanted = [people[pid] for pid, outgoing in messages.items() if outgoing is not None]
            # Who is reached where: one rule for every fan-out (storage/reach.py).
            accounts = await reach(self.session, wanted, fallback=CONSOLE)
            rows = []
            for pid, outgoing in messages.items():
                account = accounts.get(pid)
                if outgoing is None or account is None:
                    continue
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
        dialog = self.registry.dialogs[name]
        self.conversation.dialog = name
        self._set_state(dict(state))
        await dialog.start(self)

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
