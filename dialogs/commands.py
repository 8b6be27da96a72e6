"""Typed commands outside any dialog. Each job module registers its own words and handler,
so the menu does not need to know every job."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.i18n import all_words
from dialogs.base import Turn, fold

# handler(turn, rest of the text after the command word(s))
CommandHandler = Callable[[Turn, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Command:
    words_key: str  # catalogue key listing the command words, '|'-separated
    handler: CommandHandler
    or_only: bool = False
    help_key: str | None = None  # a line for the help text, shown to who may use it


COMMANDS: list[Command] = []


def command(
    words_key: str, *, or_only: bool = False, help_key: str | None = None
) -> Callable[[CommandHandler], CommandHandler]:
    def deco(fn: CommandHandler) -> CommandHandler:
        COMMANDS.append(Command(words_key, fn, or_only, help_key))
        return fn

    return deco


def find_command(text: str) -> tuple[Command, str] | None:
    """The command a text starts with (longest match of one or two words) and the rest."""
    words = fold(text).split()
    for size in (2, 1):
        if len(words) < size:
            continue
        head = " ".join(words[:size])
        for cmd in COMMANDS:
            if head in all_words(cmd.words_key):
                return cmd, " ".join(words[size:])
    return None
