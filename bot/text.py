"""Reading numbers and text from outside: one rule for every channel, page and payload.

Python's `str.isdigit` and `int()` accept far more than 0-9: superscripts ("²" is a digit
that `int` then refuses, a 500), other scripts' digits ("١٢" is 12 to `int`), surrounding
blanks and underscores ("1_0" is 10). A misread is worse than a refusal, so a number from
outside is ASCII digits only, of bounded length, within the range the store can hold;
everything else is "not a number". And PostgreSQL refuses text holding a NUL character
(in text and in jsonb alike), so NUL is stripped from everything inbound before it can reach
the store.
"""

from __future__ import annotations

import re
from typing import Any

# The largest id a BIGINT column holds; ids and counts never come near it.
INT64_MAX = 2**63 - 1
_ASCII_DIGITS = re.compile(r"[0-9]{1,19}")
NUL = "\x00"
_SURROGATE = re.compile("[\ud800-\udfff]")
# How deep strip_nul follows nested containers; deeper values are left as they are (the
# callers' structures are a few levels deep, and a hostile one must not cost a recursion).
MAX_DEPTH = 32


def ascii_int(text: object, *, low: int = 0, high: int = INT64_MAX) -> int | None:
    """`text` as an int when it is 1-19 ASCII digits and low <= value <= high, else None.

    No sign, no blanks, no underscores, no other scripts' digits: "12" is 12; " 12", "+12",
    "1_2", "١٢" and "²" are None. Anything that is not a str is None as well.
    """
    if not isinstance(text, str) or not _ASCII_DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if low <= value <= high else None


def is_ascii_int(text: object, *, low: int = 0, high: int = INT64_MAX) -> bool:
    """Whether `ascii_int` reads `text` as a number."""
    return ascii_int(text, low=low, high=high) is not None


def has_foreign_digits(text: str) -> bool:
    """Whether `text` holds a digit that is not 0-9 ("²", "١", "１"): such text is no number,
    date or time to read (parsers that accept them read them differently)."""
    return not text.isascii() and any(
        ch.isdigit() or ch.isnumeric() for ch in text if ord(ch) > 127
    )


def strip_nul(text: str) -> str:
    """`text` without NUL characters (PostgreSQL cannot store them)."""
    return text.replace(NUL, "") if NUL in text else text


def storable(text: str) -> str:
    """`text` as the store can hold it: without NUL, and with any lone surrogate (what a JSON
    "\\ud800" escape decodes to; no encoder takes it) replaced by U+FFFD."""
    text = strip_nul(text)
    if text.isascii():
        return text
    return _SURROGATE.sub("\ufffd", text)


def storable_deep(value: Any, _depth: int = 0) -> Any:
    """`value` with `storable` applied to every string in it, keys included (dicts, lists and
    tuples, to MAX_DEPTH levels): for JSON that is stored, such as a conversation reference."""
    if isinstance(value, str):
        return storable(value)
    if _depth >= MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {
            storable_deep(k, _depth + 1): storable_deep(v, _depth + 1) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(storable_deep(v, _depth + 1) for v in value)
    return value


# Initials ("J."), and name particles that start a surname ("de Vries"): never a first name.
_PARTICLES = frozenset({"de", "den", "der", "het", "ten", "ter", "van", "von", "la", "le", "'t"})


def first_name(full: str | None) -> str:
    """The name to greet someone with: "Anouk de Vries" is "Anouk". A colleague is greeted as
    one would in person, never with a surname; when the roster gives no recognisable first
    name ("J. de Vries", "van Dijk"), the full name is kinder than a guess."""
    name = (full or "").strip()
    first = name.split()[0] if name else ""
    if not first or first.endswith(".") or len(first) == 1 or first.lower() in _PARTICLES:
        return name
    return first
