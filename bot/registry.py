"""The registry: which dialogs, button actions, typed commands and periodic jobs exist.

It is filled by the composition root from an explicit list of job modules
(bot/app.py, JOB_MODULES), each of which exposes `register(registry)`; nothing registers itself at
import. A name registered twice is a start-up error, not a silent overwrite:

- dialog names are unique;
- button payload prefixes ('<prefix>:…') are one namespace shared by actions (valid in any
  state) and dialogs (valid only in that dialog): the router gives a pressed button to the
  action of its prefix first, so an action sharing a dialog's prefix would take its buttons;
- a command word (in any language) belongs to one command, so what a typed text means never
  depends on order; of a two-word and a one-word match, the two-word one wins;
- periodic job names are unique (they name the counts in the scheduler's report).

Order is explicit: the help text lists commands, and the scheduler runs periodic jobs, in the
order of the job-module list and, within a module, of its `register` function.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from bot.choices import fold
from bot.conversation import Dialog, Services, Turn
from bot.i18n import all_words
from bot.messages import Outgoing
from storage.models import Person

# Gets the whole payload (several joined by PAYLOAD_JOIN for a multi-select submission).
ActionHandler = Callable[[Turn, str], Awaitable[None]]
# handler(turn, rest of the text after the command word(s))
CommandHandler = Callable[[Turn, str], Awaitable[None]]
# A job run in one transaction of its own; returns how many things it did.
PeriodicJob = Callable[[Services], Awaitable[int]]
# What is open for a person, for a platform's home screen (read-only, outside any event).
HomeView = Callable[[Services, Person], Awaitable[Outgoing | None]]


class RegistryError(ValueError):
    """Two job modules claim the same name, prefix or command word."""


@dataclass(frozen=True, slots=True)
class Command:
    words_key: str  # catalogue key listing the command words, '|'-separated
    handler: CommandHandler
    or_only: bool = False
    help_key: str | None = None  # a line for the help text, shown to who may use it


@dataclass(frozen=True, slots=True)
class EachDue:
    """A periodic job over items, each in a transaction of its own.

    `due` lists the items (in a read-only transaction); `each` handles one and returns how
    many things it did. One item's failure neither rolls back nor stops the others. Like every
    periodic job, `each` must be safe in several processes at once (a conditional update that
    only one of them wins).
    """

    due: Callable[[Services], Awaitable[Sequence[int]]]
    each: Callable[[Services, int], Awaitable[int]]


@dataclass
class Registry:
    dialogs: dict[str, Dialog] = field(default_factory=dict)
    actions: dict[str, ActionHandler] = field(default_factory=dict)
    commands: list[Command] = field(default_factory=list)
    periodic_jobs: dict[str, PeriodicJob | EachDue] = field(default_factory=dict)
    home: HomeView | None = None
    # Dialogs whose drafts a periodic job reminds and discards: no idle timeout for them.
    own_time: set[str] = field(default_factory=set)
    # Button prefix → who owns it ("action" or "dialog <name>"), for clash reports.
    prefixes: dict[str, str] = field(default_factory=dict)
    # Folded command word → its command.
    _words: dict[str, Command] = field(default_factory=dict, repr=False)

    def dialog(self, dialog: Dialog, *, buttons: str | None = None) -> None:
        """Register a dialog; `buttons` is the payload prefix of its own buttons, if any."""
        if dialog.name in self.dialogs:
            raise RegistryError(f"dialog {dialog.name!r} is registered twice")
        if buttons is not None:
            self._claim_prefix(buttons, f"dialog {dialog.name}")
        self.dialogs[dialog.name] = dialog

    def action(self, prefix: str, handler: ActionHandler) -> None:
        """A handler for button payloads '<prefix>:…' (valid days later, in any state)."""
        self._claim_prefix(prefix, "an action")
        self.actions[prefix] = handler

    def command(
        self,
        words_key: str,
        handler: CommandHandler,
        *,
        or_only: bool = False,
        help_key: str | None = None,
    ) -> None:
        command = Command(words_key, handler, or_only, help_key)
        words = {fold(w) for w in all_words(words_key)}
        for word in sorted(words):
            other = self._words.get(word)
            if other is not None:
                raise RegistryError(
                    f"command word {word!r} of {words_key} is also one of {other.words_key}"
                )
        self._words.update(dict.fromkeys(words, command))
        self.commands.append(command)

    def periodic(self, name: str, job: PeriodicJob | EachDue) -> None:
        """A job the scheduler runs every tick (bot/scheduler.py)."""
        if name in self.periodic_jobs:
            raise RegistryError(f"periodic job {name!r} is registered twice")
        self.periodic_jobs[name] = job

    def keep_own_time(self, *dialogs: str) -> None:
        """These dialogs' drafts are reminded and discarded by a job of their own, so the
        engine's idle timeout (Turn.expire_if_idle) does not end them."""
        self.own_time.update(dialogs)

    def set_home(self, view: HomeView) -> None:
        if self.home is not None:
            raise RegistryError("the home view is registered twice")
        self.home = view

    def find_command(self, text: str) -> tuple[Command, str] | None:
        """The command a text starts with (longest match of one or two words) and the rest."""
        words = fold(text).split()
        for size in (2, 1):
            if len(words) < size:
                continue
            command = self._words.get(" ".join(words[:size]))
            if command is not None:
                return command, " ".join(words[size:])
        return None

    def _claim_prefix(self, prefix: str, owner: str) -> None:
        if not prefix or ":" in prefix:
            raise RegistryError(f"button prefix {prefix!r} of {owner} is not a plain word")
        if prefix in self.prefixes:
            raise RegistryError(
                f"button prefix {prefix!r} of {owner} is already {self.prefixes[prefix]}'s"
            )
        self.prefixes[prefix] = owner
