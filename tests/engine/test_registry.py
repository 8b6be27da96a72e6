"""The registry is built by the composition root from its job modules, and a clash stops the
start-up instead of silently replacing what another module registered."""

from __future__ import annotations

import importlib
import pkgutil
from typing import ClassVar

import pytest

import dialogs
from bot.app import JOB_MODULES, build_registry
from bot.conversation import Services, Turn
from bot.registry import EachDue, Registry, RegistryError


class _Dialog:
    name: ClassVar[str] = "demo"

    async def start(self, turn: Turn) -> None:
        """Nothing to ask."""

    async def step(self, turn: Turn) -> None:
        """Nothing to do."""


class _Other(_Dialog):
    name: ClassVar[str] = "other"


async def _handler(turn: Turn, text: str) -> None:
    """A handler that is never called."""


async def _job(services: Services) -> int:
    return 0


def test_a_dialog_name_registered_twice_raises() -> None:
    registry = Registry()
    registry.dialog(_Dialog())
    with pytest.raises(RegistryError, match="demo"):
        registry.dialog(_Dialog())


def test_an_action_prefix_registered_twice_raises() -> None:
    registry = Registry()
    registry.action("poll", _handler)
    with pytest.raises(RegistryError, match="poll"):
        registry.action("poll", _handler)


def test_actions_and_dialog_buttons_share_one_prefix_namespace() -> None:
    registry = Registry()
    registry.dialog(_Dialog(), buttons="pc")
    with pytest.raises(RegistryError, match="dialog demo"):
        registry.action("pc", _handler)
    registry.action("oq", _handler)
    with pytest.raises(RegistryError, match="an action"):
        registry.dialog(_Other(), buttons="oq")
    assert "other" not in registry.dialogs


def test_a_command_word_claimed_twice_raises() -> None:
    registry = Registry()
    registry.command("commands.polls", _handler)
    with pytest.raises(RegistryError, match=r"commands\.polls"):
        registry.command("commands.polls", _handler)  # same words, another command
    assert len(registry.commands) == 1


def test_a_periodic_job_name_registered_twice_raises() -> None:
    registry = Registry()
    registry.periodic("retention", _job)
    with pytest.raises(RegistryError, match="retention"):
        registry.periodic("retention", EachDue(due=_due, each=_each))


async def _due(services: Services) -> list[int]:
    return []


async def _each(services: Services, item: int) -> int:
    return 0


def test_the_home_view_registered_twice_raises() -> None:
    registry = Registry()
    registry.set_home(_home)
    with pytest.raises(RegistryError, match="home"):
        registry.set_home(_home)


async def _home(services: Services, person: object) -> None:
    return None


def test_a_job_module_registered_twice_raises() -> None:
    with pytest.raises(RegistryError):
        build_registry((*JOB_MODULES, JOB_MODULES[0]))


def test_every_dialogs_module_that_registers_is_a_job_module() -> None:
    registering = {
        module.name
        for module in pkgutil.iter_modules(dialogs.__path__)
        if hasattr(importlib.import_module(f"dialogs.{module.name}"), "register")
    }
    assert registering == {m.__name__.removeprefix("dialogs.") for m in JOB_MODULES}


def test_the_app_registry_holds_what_every_job_module_registers() -> None:
    app = build_registry()
    for module in JOB_MODULES:
        alone = Registry()
        module.register(alone)
        kinds = {name: type(d) for name, d in app.dialogs.items()}
        assert {name: type(d) for name, d in alone.dialogs.items()}.items() <= kinds.items()
        assert alone.actions.items() <= app.actions.items(), module.__name__
        keys = {(c.words_key, c.or_only, c.help_key) for c in app.commands}
        assert {(c.words_key, c.or_only, c.help_key) for c in alone.commands} <= keys
        assert alone.periodic_jobs.items() <= app.periodic_jobs.items(), module.__name__
        assert alone.prefixes.items() <= app.prefixes.items(), module.__name__
    assert set(app.dialogs) == {
        "menu", "poll_create", "question_create", "open_answer", "broadcast_create",
        "nominate", "nomination_campaign", "unsafe_report", "report_reject", "report_followup",
        "survey", "survey_create",
    }  # fmt: skip
    assert set(app.actions) == {
        "poll", "bc", "bcm", "menu", "lang", "nom", "nr", "oq", "rm", "svy", "intent", "news",
    }  # fmt: skip
    assert list(app.periodic_jobs) == [
        "polls_remind", "polls_close", "polls_open", "polls_repeat", "broadcasts_send",
        "broadcasts_remind", "web_purge", "campaigns_close", "questions_close", "surveys_remind",
        "surveys_close", "surveys_open", "report_drafts",
        "report_anonymous_notices", "media_purge", "retention", "reseal",
    ]  # fmt: skip
    # The order of the help text, as it was when the modules registered themselves at import.
    assert [c.words_key.removeprefix("commands.") for c in app.commands] == [
        "subscribe", "unsubscribe", "report_status", "broadcasts", "new_broadcast",
        "dashboard", "polls", "results", "new_poll", "close", "nonvoters", "help",
        "language", "nominate", "new_campaign", "campaign_results", "questions", "answer",
        "answers", "close_question", "hide_answer", "new_question", "report", "survey",
        "survey_results", "new_survey",
    ]  # fmt: skip
    assert app.home is not None


@pytest.mark.parametrize(
    ("text", "key", "rest"),
    [
        ("nieuwe peiling", "commands.new_poll", ""),  # two words beat one
        ("peiling", "commands.polls", ""),
        ("Uitslag 12", "commands.results", "12"),
        ("sluit vraag 3", "commands.close_question", "3"),
        ("sluit 3", "commands.close", "3"),
        ("afmelden", "commands.unsubscribe", ""),
    ],
)
def test_find_command(text: str, key: str, rest: str) -> None:
    found = build_registry().find_command(text)
    assert found is not None
    assert (found[0].words_key, found[1]) == (key, rest)


def test_an_unknown_text_is_no_command() -> None:
    assert build_registry().find_command("blauwe bessen") is None
