"""Every user text exists in Dutch and English, with the same placeholders."""

from __future__ import annotations

import string

import pytest

from bot.i18n import LANGUAGES, catalogue, normalise_language, t


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_key_exists_in_every_language() -> None:
    keys = {lang: set(catalogue(lang)) for lang in LANGUAGES}
    for lang in LANGUAGES:
        for other in LANGUAGES:
            missing = keys[other] - keys[lang]
            assert not missing, f"missing in {lang}: {sorted(missing)}"


def test_placeholders_match_between_languages() -> None:
    nl, en = catalogue("nl"), catalogue("en")
    different = {k for k in nl if _fields(nl[k]) != _fields(en[k])}
    assert not different, f"placeholders differ: {sorted(different)}"


def test_no_empty_texts() -> None:
    for lang in LANGUAGES:
        empty = [k for k, v in catalogue(lang).items() if not v.strip()]
        assert not empty, f"empty texts in {lang}: {empty}"


def test_dialog_code_uses_only_existing_keys() -> None:
    """Keys written literally in t(...) calls exist (a typo would raise at run time)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    pattern = re.compile(r"""\bt\((?:[a-z_.]+,\s*)?["']([a-z_]+\.[a-z_.]+)["']""")
    known = set(catalogue("nl"))
    used = set()
    for folder in ("bot", "dialogs", "adapters"):
        for path in (root / folder).rglob("*.py"):
            used |= set(pattern.findall(path.read_text()))
    assert used, "the pattern found no keys at all"
    assert not used - known, f"unknown keys: {sorted(used - known)}"


@pytest.mark.parametrize(
    ("hint", "expected"), [("en-GB", "en"), ("nl_NL", "nl"), ("de", "nl"), (None, "nl")]
)
def test_locale_hints(hint: str | None, expected: str) -> None:
    assert normalise_language(hint) == expected


def test_missing_key_raises_rather_than_showing_a_key() -> None:
    with pytest.raises(KeyError):
        t("nl", "no.such.key")
