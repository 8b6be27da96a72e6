"""The readers' word lists, from words.toml next to this module, loaded once.

The lists are data, not code: a word colleagues type that the bot misses is added to the
file (Dutch and English side by side) without touching the rules that read it. Every list
holds folded forms (normalize.fold); both languages are always read together.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

_FILE = Path(__file__).with_name("words.toml")
LANGUAGES = ("nl", "en")


@cache
def _words() -> dict[str, Any]:
    with _FILE.open("rb") as fh:
        return tomllib.load(fh)


def section(path: str) -> Any:
    """The part of words.toml at a dotted `path` ("answers.polarity")."""
    node: Any = _words()
    for key in path.split("."):
        node = node[key]
    return node


def listed(path: str) -> tuple[str, ...]:
    """The words at `path`, Dutch first and then English, each in the order of the file."""
    node = section(path)
    return tuple(word for lang in LANGUAGES for word in node.get(lang, ()))


def word_set(path: str) -> frozenset[str]:
    """The words at `path` in both languages, as a set."""
    return frozenset(listed(path))


def numbers(*paths: str) -> dict[str, int]:
    """Word → number from the tables at `paths` in both languages ("twee" → 2, "first" → 1).

    A word that two tables give different numbers is an error in the file, not a choice to
    make at run time.
    """
    merged: dict[str, int] = {}
    for path in paths:
        node = section(path)
        for lang in LANGUAGES:
            for word, value in node.get(lang, {}).items():
                if merged.setdefault(word, value) != value:
                    raise ValueError(f"words.toml: {word!r} is {merged[word]} and {value}")
    return merged
