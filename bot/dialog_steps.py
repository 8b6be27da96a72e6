"""One base for guided dialogs: declared steps, and the words every step understands.

A guided dialog lists its steps. Each step has a prompt (text and choices), a parser that
reads a pressed button or typed text into a value or a refusal, and an `accept` that stores
the value and names the next step. The base, not each dialog, handles at every step:

- 'terug' / 'back': the previous step is asked again (at the first step it says so);
- 'stop' / 'annuleer' / 'cancel': the dialog ends (the one below it on the stack resumes);
- 'help' / 'menu': what this step wants and which words work, then the SAME step again;
  these words never become the answer (a misread is worse than a refusal);
- anything the parser refuses: the reason and what would work, then the same step again.

Why one base: each dialog used to decide for itself, so "help" became a poll's question and
"terug" at a preview showed the preview again. The trail behind 'terug' and the current step
are plain JSON in the dialog state (`step`, `trail`), so a stacked dialog keeps them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bot.choices import fold
from bot.conversation import Turn
from bot.errors import UserError
from bot.i18n import all_words
from bot.messages import Choice
from bot.understand.answers import Ambiguous, Matched, NotUnderstood, understand_answer

STEP = "step"
TRAIL = "trail"


@dataclass(frozen=True, slots=True)
class Prompt:
    """What a step asks: its text and the buttons (a typed number or label answers them)."""

    text: str
    choices: Sequence[Choice] = ()
    multiple: bool = False
    # False when a typed number is itself the answer (a maximum), not a button's number.
    typed: bool = True


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an answer was not taken: a catalogue key and its parameters (times are said in
    the person's words), and buttons offered with the re-ask before the step's own (the
    readings of an ambiguous time)."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)
    choices: Sequence[Choice] = ()

    @classmethod
    def of(cls, error: UserError) -> Refusal:
        """A use case's refusal as a step's."""
        return cls(error.key, error.params)


@dataclass(frozen=True, slots=True)
class Step:
    """One declared step.

    `parse` returns a value or a Refusal; it never stores anything. `accept` stores the value
    and returns the next step's name (the same name to stay, having replied itself), or None
    when it ended the dialog or handed over. `help_key` explains what the step wants.
    """

    name: str
    prompt: Callable[[Turn], Awaitable[Prompt]]
    parse: Callable[[Turn], Awaitable[Any]]
    accept: Callable[[Turn, Any], Awaitable[str | None]]
    help_key: str


def _typed_word(turn: Turn, key: str) -> bool:
    return not turn.incoming.choice and fold(turn.text) in all_words(key)


def back_button(turn: Turn, prefix: str) -> Choice:
    """A 'Terug' button, '<prefix>:back' (wants_back recognises it)."""
    return Choice(turn.t("steps.back"), f"{prefix}:back")


def wants_back(turn: Turn, prefix: str | None) -> bool:
    if prefix is not None and turn.choice == f"{prefix}:back":
        return True
    return _typed_word(turn, "commands.back")


def wants_cancel(turn: Turn) -> bool:
    return _typed_word(turn, "commands.cancel")


def wants_help(turn: Turn) -> bool:
    return _typed_word(turn, "dialog.help_words")


class StepDialog(ABC):
    """A dialog made of declared steps; subclasses set `name`, `prefix` and `steps()`."""

    name: ClassVar[str]
    # The payload prefix of the dialog's own buttons ('<prefix>:back' is a back button).
    prefix: ClassVar[str | None] = None
    # What the dialog is called in "your unfinished … was stopped" (bot/conversation.py).
    title_key: ClassVar[str] = "dialog.title.generic"

    @abstractmethod
    def steps(self) -> Sequence[Step]:
        """The steps in order; the first is asked when the dialog starts."""

    def _by_name(self) -> dict[str, Step]:
        return {s.name: s for s in self.steps()}

    def initial_state(self, turn: Turn) -> dict[str, Any]:
        """What a fresh run's state holds besides its step and trail (override to add)."""
        return {}

    async def start(self, turn: Turn) -> None:
        first = self.steps()[0]
        turn.set(**{**self.initial_state(turn), STEP: first.name, TRAIL: []})
        await self.ask(turn, first.name)

    async def ask(
        self, turn: Turn, name: str, before: str | None = None, extra: Sequence[Choice] = ()
    ) -> None:
        """Ask step `name`, with a line before its question (a reason, an explanation) and
        `extra` buttons before its own."""
        prompt = await self._by_name()[name].prompt(turn)
        text = f"{before}\n\n{prompt.text}" if before else prompt.text
        choices = [*extra, *prompt.choices]
        if prompt.typed:
            turn.ask(text, choices, multiple=prompt.multiple)
        else:
            turn.reply(text, choices, multiple=prompt.multiple)

    async def pick(self, turn: Turn) -> str | Refusal:
        """A parser for a step whose answer is one of its own buttons, pressed or typed."""
        current = self._by_name().get(str(turn.state.get(STEP)), self.steps()[0])
        return choose(turn, (await current.prompt(turn)).choices)

    def back_choice(self, turn: Turn) -> Choice:
        """A 'Terug' button (the dialog's '<prefix>:back')."""
        assert self.prefix is not None
        return back_button(turn, self.prefix)

    def move(self, turn: Turn, name: str) -> None:
        """Make `name` the current step, remembering the one left for 'terug'. Moving to a
        step already on the trail (asked again after a refusal) cuts the trail back to it."""
        current = str(turn.state.get(STEP) or self.steps()[0].name)
        trail = [str(s) for s in turn.state.get(TRAIL, [])]
        if name in trail:
            trail = trail[: trail.index(name)]
        elif name != current:
            trail.append(current)
        turn.set(**{STEP: name, TRAIL: trail})

    async def step(self, turn: Turn) -> None:
        steps = self._by_name()
        current = steps.get(str(turn.state.get(STEP)), self.steps()[0])
        if wants_back(turn, self.prefix):
            await self._back(turn, current)
            return
        if wants_cancel(turn):
            turn.end()
            turn.reply(turn.t("common.cancelled"))
            return
        if wants_help(turn):
            explain = turn.t(current.help_key) + "\n" + turn.t("dialog.words")
            await self.ask(turn, current.name, before=explain)
            return
        parsed = await current.parse(turn)
        if isinstance(parsed, Refusal):
            await self.ask(turn, current.name, before=say(turn, parsed), extra=parsed.choices)
            return
        following = await current.accept(turn, parsed)
        if following is None or following == current.name:
            return
        self.move(turn, following)
        await self.ask(turn, following)

    async def _back(self, turn: Turn, current: Step) -> None:
        trail = [str(s) for s in turn.state.get(TRAIL, [])]
        if not trail:
            await self.ask(turn, current.name, before=turn.t("dialog.first"))
            return
        previous = trail.pop()
        turn.set(**{STEP: previous, TRAIL: trail})
        await self.ask(turn, previous)


def say(turn: Turn, refusal: Refusal) -> str:
    """A refusal in the person's language, times in their words."""
    return turn.refusal(UserError(refusal.key, **refusal.params))


# The longest piece of a typed reply quoted back in a re-ask.
QUOTE = 40


def quoted(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTE else text[: QUOTE - 1] + "…"


def one_of(turn: Turn, items: Sequence[str]) -> str:
    """'A', 'B' of 'C'."""
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + turn.t("dialog.or") + items[-1]


def choose(turn: Turn, choices: Sequence[Choice]) -> str | Refusal:
    """The payload of `choices` that a pressed button or a typed reply picks, read as
    colleagues type (bot/understand/answers.py: "ja", "met naam", "versturen", "productie",
    "marieke", "de tweede"), or why not: two fitting choices are asked back, never guessed.

    The step's 'Terug' button is no answer (the base handles it first)."""
    own = [c for c in choices if not c.payload.endswith(":back")]
    if turn.choice in {c.payload for c in own}:
        return str(turn.choice)
    if turn.incoming.choice or not turn.text:
        return Refusal("dialog.pick_one")
    answer = understand_answer(turn.text, own)
    if isinstance(answer, Matched) and len(answer.payloads) == 1:
        return answer.payloads[0]
    labels = {c.payload: c.label for c in own}
    if isinstance(answer, Ambiguous | Matched):
        picked = answer.candidates if isinstance(answer, Ambiguous) else answer.payloads
        named = [f"'{labels[p]}'" for p in picked if p in labels]
        return Refusal(
            "dialog.choice_which",
            {"options": one_of(turn, named), "typed": quoted(turn.text)},
        )
    assert isinstance(answer, NotUnderstood)
    key = {
        "out_of_range": "dialog.choice_out_of_range",
        "negation": "dialog.choice_negation",
    }.get(answer.reason, "dialog.choice_no_match")
    return Refusal(key, {"typed": quoted(turn.text), "count": len(own)})
