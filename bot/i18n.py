"""Translated user texts from the catalogues in bot/locales/<lang>/<area>.toml.

Each job keeps its texts in a file of its own (core, poll, …); all files of a language are
merged, and a key defined twice is an error. Every key exists in every language (a test
enforces it); a missing key at run time is a bug, so it raises instead of showing a key to an
employee.

A text that depends on a number is a table of CLDR plural forms (`one`, `other`, …; Babel's
rules per language) and is chosen by the `count` parameter: "1 foto" and "3 foto's", never
"foto('s)". Every language's entry holds exactly the forms its rules name.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale

LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"
_LOCALES = Path(__file__).parent / "locales"


PLURAL_FORMS = frozenset({"zero", "one", "two", "few", "many", "other"})
# One entry: a plain text, or plural forms by CLDR category.
Entry = str | dict[str, str]


def is_plural(node: Any) -> bool:
    """A table is a plural entry when it has 'other' and only CLDR category names as keys."""
    return isinstance(node, dict) and "other" in node and set(node) <= PLURAL_FORMS


@cache
def _plural_rule(lang: str) -> Any:
    return Locale.parse(lang).plural_form


def plural_forms(lang: str) -> frozenset[str]:
    """The forms a plural entry in `lang` must have (Babel's CLDR rules, always 'other')."""
    return frozenset(_plural_rule(lang).tags | {"other"})


def _flatten(prefix: str, node: dict[str, Any], into: dict[str, Entry]) -> None:
    for key, value in node.items():
        full = f"{prefix}.{key}" if prefix else key
        if is_plural(value):
            into[full] = {form: str(text) for form, text in value.items()}
        elif isinstance(value, dict):
            _flatten(full, value, into)
        else:
            into[full] = str(value)


@cache
def catalogue(lang: str) -> dict[str, Entry]:
    merged: dict[str, Entry] = {}
    for path in sorted((_LOCALES / lang).glob("*.toml")):
        with path.open("rb") as fh:
            flat: dict[str, Entry] = {}
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
    """The text `key` in `lang`, with `params` filled in (str.format).

    A plural entry needs `count` (an int) to choose its form; leaving it out is a bug and
    raises, so no colleague ever reads the wrong form.
    """
    lang = normalise_language(lang)
    entry = catalogue(lang)[key]
    if isinstance(entry, dict):
        if "count" not in params:
            raise KeyError(f"{key} has plural forms and needs count=")
        form = _plural_rule(lang)(abs(int(params["count"])))
        text = entry.get(form, entry["other"])
    else:
        text = entry
    if not params:
        return text
    return _one_stop(text, params).format(**params)


_AFTER_FIELD = re.compile(r"\{(\w+)\}\.")
_STOPS = (".", "?", "!", "…")


def _one_stop(text: str, params: dict[str, Any]) -> str:
    """Drop the period after a placeholder whose value already ends a sentence: an option
    typed as 'hoe werkt dit?' reads 'Optie 2: hoe werkt dit?', not 'hoe werkt dit?.'."""

    def keep(match: re.Match[str]) -> str:
        value = params.get(match.group(1))
        if isinstance(value, str) and value.rstrip().endswith(_STOPS):
            return "{" + match.group(1) + "}"
        return match.group(0)

    return _AFTER_FIELD.sub(keep, text)


def words(lang: str, key: str) -> set[str]:
    """A catalogue entry that lists command words, separated by '|', lower-cased."""
    return {w.strip().lower() for w in t(lang, key).split("|") if w.strip()}


def all_words(key: str) -> set[str]:
    """Command words in every language: a Dutch speaker typing 'help' is understood too."""
    found: set[str] = set()
    for lang in LANGUAGES:
        found |= words(lang, key)
    return found


def pick(lang: str, text: str, english: str | None) -> str:
    """What a reader in `lang` gets of a text an author wrote: the author's English version
    for an English reader when there is one, else the text as written (Dutch). Authors'
    texts are never machine-translated: a wrong translation is a misread."""
    return english if english and normalise_language(lang) == "en" else text
