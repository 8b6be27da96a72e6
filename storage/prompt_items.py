"""Which poll, open question or nomination campaign an outbox prompt asks about.

The prompt's buttons name the item (`poll:<id>:…`, `oq:<id>:…`, `nom:<id>:…`). The figures
(storage/stats.py) count reach per item over every outbox row; reading each row's JSON for
that took most of `achterban stats` at 1,000,000 rows (issue 15). So the item is also kept in
two plain columns, outbox.about_kind and outbox.about_id, filled here as a column default on
every insert (ORM add, executemany, multi-row VALUES and storage/raw.py's insert alike) and
backfilled by migration 0015.
"""

from __future__ import annotations

from typing import Any

from bot.text import ascii_int

PREFIXES = {"poll": "poll", "oq": "question", "nom": "campaign"}


def item_of(prompt: dict[str, Any] | None) -> tuple[str, int] | None:
    """(kind, id) of the first button that names an item, or None."""
    for _label, payload in (prompt or {}).get("choices", []):
        bits = str(payload).split(":")
        number = ascii_int(bits[1]) if len(bits) >= 2 and bits[0] in PREFIXES else None
        if number is not None:
            return PREFIXES[bits[0]], number
    return None


def _current(context: Any) -> tuple[str, int] | None:
    if context is None:
        return None
    prompt = context.get_current_parameters().get("prompt")
    return item_of(prompt) if isinstance(prompt, dict) else None


def about_kind_default(context: Any) -> str | None:
    """Column default of outbox.about_kind: from the prompt inserted with the row."""
    item = _current(context)
    return item[0] if item else None


def about_id_default(context: Any) -> int | None:
    """Column default of outbox.about_id: from the prompt inserted with the row."""
    item = _current(context)
    return item[1] if item else None
