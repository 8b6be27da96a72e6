"""The dialog base and the dialog stack, fast: no database, no engine (issue 12).

A toy job (a suggestion box) is written as a real job would be: a StepDialog whose last step
calls a use case, and the use case works on a unit of work. Here the unit of work is an
in-memory fake (cosmicpython's FakeUnitOfWork), so each test runs in milliseconds and shows
only the rules of the base: 'terug', 'help', 'stop' at every step, a re-ask that says why, the
trail, and a dialog started by a button while another runs that hands back when it ends.
The real jobs' dialogs are tested against both databases (tests/dialogs/), because their use
cases' rules live partly in the database (unique keys, locks, conditional updates).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bot.conversation import Turn
from bot.dialog_steps import Prompt, Refusal, Step, StepDialog
from bot.messages import Choice, Incoming
from bot.registry import Registry
from storage.models import Conversation, Person

TOPICS = ("Kantine", "Parkeren", "Roosters")
HELP = "common.cancelled"  # any catalogue key: the base shows it before the words that work


@dataclass
class FakeUnitOfWork:
    """What the toy use case writes to; `committed` tells a finished command from a dropped one."""

    suggestions: list[tuple[str, str]] = field(default_factory=list)
    committed: bool = False

    def commit(self) -> None:
        self.committed = True


def submit_suggestion(uow: FakeUnitOfWork, topic: str, text: str) -> int:
    """The toy job's use case: validate, write, commit."""
    if not text.strip():
        raise ValueError("empty")
    uow.suggestions.append((topic, text.strip()))
    uow.commit()
    return len(uow.suggestions)


class SuggestionDialog(StepDialog):
    name: ClassVar[str] = "suggestion"
    prefix: ClassVar[str | None] = "sug"

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow

    def steps(self) -> Sequence[Step]:
        return (
            Step("topic", self._topic_prompt, self._topic_parse, self._topic_accept, HELP),
            Step("text", self._text_prompt, self._text_parse, self._text_accept, HELP),
        )

    async def _topic_prompt(self, turn: Turn) -> Prompt:
        return Prompt("Welk onderwerp?", [Choice(t, f"sug:{i}") for i, t in enumerate(TOPICS)])

    async def _topic_parse(self, turn: Turn) -> Any:
        for i, topic in enumerate(TOPICS):
            if turn.choice == f"sug:{i}" or turn.text.lower() == topic.lower():
                return topic
        return Refusal("dialog.first")

    async def _topic_accept(self, turn: Turn, topic: Any) -> str:
        turn.set(topic=topic)
        return "text"

    async def _text_prompt(self, turn: Turn) -> Prompt:
        return Prompt("Wat is je idee?")

    async def _text_parse(self, turn: Turn) -> Any:
        return turn.text or Refusal("dialog.first")

    async def _text_accept(self, turn: Turn, text: Any) -> None:
        number = submit_suggestion(self.uow, str(turn.state["topic"]), str(text))
        turn.end()
        turn.reply(f"Bedankt, idee {number} staat erin.")


class AsideDialog(StepDialog):
    """A one-step dialog a button starts in the middle of another (a quick vote, say)."""

    name: ClassVar[str] = "aside"

    def steps(self) -> Sequence[Step]:
        return (Step("only", self._prompt, self._parse, self._accept, HELP),)

    async def _prompt(self, turn: Turn) -> Prompt:
        return Prompt("Even tussendoor: ja of nee?")

    async def _parse(self, turn: Turn) -> Any:
        return turn.text.lower() if turn.text.lower() in {"ja", "nee"} else Refusal("dialog.first")

    async def _accept(self, turn: Turn, value: Any) -> None:
        turn.end()
        turn.reply(f"Genoteerd: {value}.")


_events = itertools.count()


@dataclass
class Chat:
    """One person talking to the dialogs, with their conversation row kept in memory."""

    registry: Registry
    person: Person = field(default_factory=lambda: Person(id=1, name="Fatima", language="nl"))
    conversation: Conversation = field(default_factory=lambda: Conversation(person_id=1))

    def __post_init__(self) -> None:
        self.conversation.state = {}

    def _turn(self, text: str, choice: str | None, *, acting: bool = False) -> Turn:
        incoming = Incoming("console", f"e{next(_events)}", "fatima", text=text, choice=choice)
        return Turn(
            incoming=incoming,
            person=self.person,
            roles=set(),
            services=None,  # type: ignore[arg-type]  # the base never reaches the stores
            conversation=self.conversation,
            registry=self.registry,
            choice=choice,
            acting=acting,
        )

    async def begin(self, name: str, *, acting: bool = False) -> list[str]:
        turn = self._turn("", None, acting=acting)
        await turn.begin(name)
        return await self._finish(turn)

    async def say(self, text: str = "", choice: str | None = None) -> list[str]:
        turn = self._turn(text, choice)
        await self.registry.dialogs[str(self.conversation.dialog)].step(turn)
        return await self._finish(turn)

    async def _finish(self, turn: Turn) -> list[str]:
        turn.resume()
        return [outgoing.text for outgoing, _ in turn.replies]


def chat() -> tuple[Chat, FakeUnitOfWork]:
    uow = FakeUnitOfWork()
    registry = Registry()
    registry.dialog(SuggestionDialog(uow))
    registry.dialog(AsideDialog())
    return Chat(registry), uow


async def test_a_run_through_commits_once() -> None:
    person, uow = chat()
    assert (await person.begin("suggestion"))[-1].startswith("Welk onderwerp?")
    await person.say(choice="sug:1")
    replies = await person.say("Meer fietsenrekken")
    assert replies == ["Bedankt, idee 1 staat erin."]
    assert uow.suggestions == [("Parkeren", "Meer fietsenrekken")] and uow.committed
    assert person.conversation.dialog is None


async def test_help_is_never_the_answer_and_asks_the_same_step() -> None:
    person, uow = chat()
    await person.begin("suggestion")
    await person.say("kantine")
    replies = await person.say("help")
    assert replies[-1].endswith("Wat is je idee?")
    assert "'terug'" in replies[-1]
    assert uow.suggestions == []


async def test_back_returns_to_the_previous_step_and_says_so_at_the_first() -> None:
    person, _ = chat()
    await person.begin("suggestion")
    first = await person.say("terug")
    assert first[-1].endswith("Welk onderwerp?")
    assert first[-1] != "Welk onderwerp?"  # it says why it stayed
    await person.say("roosters")
    assert (await person.say("terug"))[-1] == "Welk onderwerp?"
    await person.say("kantine")
    await person.say("Soep op vrijdag")
    assert person.conversation.dialog is None


async def test_stop_ends_without_writing() -> None:
    person, uow = chat()
    await person.begin("suggestion")
    await person.say("kantine")
    await person.say("stop")
    assert person.conversation.dialog is None and uow.suggestions == [] and not uow.committed


async def test_a_refusal_says_why_and_asks_again() -> None:
    person, _ = chat()
    await person.begin("suggestion")
    replies = await person.say("koffie")
    assert replies[-1].endswith("Welk onderwerp?") and replies[-1] != "Welk onderwerp?"
    assert person.conversation.state["step"] == "topic"


async def test_a_dialog_started_by_a_button_resumes_the_one_below() -> None:
    person, uow = chat()
    await person.begin("suggestion")
    await person.say("parkeren")
    aside = await person.begin("aside", acting=True)
    assert aside[-1] == "Even tussendoor: ja of nee?"
    replies = await person.say("ja")
    # The aside's answer, then the suggestion's own question again, where it was.
    assert replies == ["Genoteerd: ja.", "Wat is je idee?"]
    assert person.conversation.dialog == "suggestion"
    await person.say("Laadpalen")
    assert uow.suggestions == [("Parkeren", "Laadpalen")]


async def test_stop_in_the_inner_dialog_hands_back_with_the_draft_kept() -> None:
    person, _ = chat()
    await person.begin("suggestion")
    await person.say("kantine")
    await person.begin("aside", acting=True)
    replies = await person.say("annuleer")
    assert replies[-1] == "Wat is je idee?"
    assert person.conversation.state["topic"] == "Kantine"
