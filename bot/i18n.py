"""Translated user texts from the catalogues in bot/locales/<lang>/<area>.toml.

Each job keeps its texts in a file of its own (core, poll, …); all files of a language are
merged, and a key defined twice is an error. Every key exists in every language (a test
enforces it); a missing key at run time is a bug, so it raises instead of showing a key to an
employee.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"
_LOCALES = Path(__file__).parent / "locales"


def _flatten(prefix: str, node: dict[str, Any], into: dict[str, str]) -> None:
    for key, value in node.items():
        full = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            _flatten(full, value, into)
        else:
            into[full] = str(value)


@cache
def catalogue(lang: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in sorted((_LOCALES / lang).glob("*.toml")):
        with path.open("rb") as fh:
            flat: dict[str, str] = {}
            _flatten("", tomllib.load(fh), flat)
        if twice := merged.keys() & flat.keys():
            raise ValueError(f"{path}: keys defined in another file too: {sorted(twice)}")
        merged.update(flat)
    return merged


def normalise_language(lang: str | None) -> str:
    """Map a locale hint such as 'en-GB' or 'nl_NL' to a supported language, or the default."""
    if not lang:
        return DEFAULT_LANGUAGE
    base = lang.replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


def t(lang: str, key: str, /, **params: Any) -> str:
    """The text `key` in `lang`, with `params` filled in (str.format)."""
    text = catalogue(normalise_language(lang))[key]
    return text.format(**params) if params else text


def words(lang: str, key: str) -> set[str]:
    """A catalogue entry that lists command words, separated by '|', lower-cased."""
    return {w.strip().lower() for w in t(lang, key).split("|") if w.strip()}


def all_words(key: str) -> set[str]:
    """Command words in every language: a Dutch speaker typing 'help' is understood too."""
    found: set[str] = set()
    for lang in LANGUAGES:
        found |= words(lang, key)
    return found
