"""Typed answers: how a typed number, label or command word is matched, one rule for all.

A person may type "2", "Ja" or "1, 3" instead of pressing a button; the router and the
dialogs match that against the choices the person was last offered. Kept apart from the
conversation model so that web forms can fold text the same way without loading it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from bot.messages import PAYLOAD_JOIN, Choice
from bot.text import ascii_int


def fold(text: str) -> str:
    """Case- and accent-insensitive form for matching typed answers and commands."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().strip())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _words(text: str) -> str:
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text).split())


def match_choice(
    text: str, choices: Sequence[Choice], *, multiple: bool = False, fragment: bool = False
) -> str | None:
    """Map a typed answer to a choice payload: a number ("2"), a label ("Ja"), for multiple
    choice several numbers/labels ("1 3", "1, 3"), and with `fragment` whole words that fit
    one label only ("restaurant?" for "In een restaurant"). None when nothing matches."""
    typed = fold(text)
    if not typed or not choices:
        return None
    by_label = {fold(c.label): c.payload for c in choices}
    if typed in by_label:
        return by_label[typed]
    words = _words(typed)
    if fragment and len(words) >= 3:
        fits = [c.payload for c in choices if f" {words} " in f" {_words(fold(c.label))} "]
        if len(fits) == 1:
            return fits[0]
    # Numbers as typed, before folding (NFKD makes "²" a "2"): ASCII digits only, so "١" or
    # "²" is no answer rather than a misread one.
    raw = text.strip()
    if typed.isdigit():
        n = ascii_int(raw, low=1, high=len(choices))
        return choices[n - 1].payload if n is not None else None
    if multiple:
        parts = [p for p in raw.replace(",", " ").replace(";", " ").split() if p]
        numbers = [ascii_int(p, low=1, high=len(choices)) for p in parts]
        if parts and all(n is not None for n in numbers):
            picked = sorted({n for n in numbers if n is not None})
            return PAYLOAD_JOIN.join(choices[n - 1].payload for n in picked)
        labels = [fold(p) for p in text.replace(";", ",").split(",")]
        if len(labels) > 1 and all(lbl in by_label for lbl in labels):
            return PAYLOAD_JOIN.join(by_label[lbl] for lbl in labels)
    return None
