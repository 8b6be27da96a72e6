"""A fan-out's message made once per language (`Services.notify_many`'s `build`), and its
outbox rows made once per message."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from bot.messages import Outgoing
from storage.models import Person
from storage.outbox import outbox_row
from storage.prompts import outbox_prompt
from storage.reach import Address


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


def outbox_rows(
    messages: Mapping[int, Outgoing | None],
    accounts: Mapping[int, Address],
    *,
    prompt: bool,
    now: datetime,
) -> list[dict[str, Any]]:
    """An outbox row per person id with a message and an account. The part of the row that
    comes from the message is made once per message (most share one per language) and
    shared by its rows, so the insert serialises it once too (storage/raw.py). Keyed by
    identity, which holds while `messages` keeps them alive. Every row has a prompt key
    (None when the message asks nothing): the insert takes its columns from the first."""
    made: dict[int, dict[str, Any]] = {}
    rows = []
    for pid, outgoing in messages.items():
        account = accounts.get(pid)
        if outgoing is None or account is None:
            continue
        shared = made.get(id(outgoing))
        if shared is None:
            asks = outbox_prompt(outgoing) if prompt and outgoing.choices else None
            shared = outbox_row("", "", None, outgoing, now=now) | {"prompt": asks}
            made[id(outgoing)] = shared
        rows.append(
            shared | {"channel": account.channel, "account": account.platform_id, "person_id": pid}
        )
    return rows
