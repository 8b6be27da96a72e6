"""A fan-out's message made once per language (`Services.notify_many`'s `build`)."""

from __future__ import annotations

from collections.abc import Callable

from bot.messages import Outgoing
from storage.models import Person


def per_language(make: Callable[[str], Outgoing]) -> Callable[[Person], Outgoing]:
    """A fan-out's message (`Services.notify_many`'s `build`) made once per language and
    shared by everyone who reads it: a poll to 100,000 people builds two, not 100,000."""
    made: dict[str, Outgoing] = {}

    def build(person: Person) -> Outgoing:
        found = made.get(person.language)
        if found is None:
            found = made[person.language] = make(person.language)
        return found

    return build
