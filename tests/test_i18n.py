"""Every user text exists in Dutch and English, with the same placeholders."""

from __future__ import annotations

import string

import pytest

from bot.i18n import LANGUAGES, Entry, catalogue, normalise_language, plural_forms, t


def _fields(entry: Entry) -> set[str]:
    texts = entry.values() if isinstance(entry, dict) else [entry]
    return {name for text in texts for _, name, _, _ in string.Formatter().parse(text) if name}


def _texts(entry: Entry) -> list[str]:
    return list(entry.values()) if isinstance(entry, dict) else [entry]


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
        empty = [k for k, v in catalogue(lang).items() if not all(x.strip() for x in _texts(v))]
        assert not empty, f"empty texts in {lang}: {empty}"


def test_plural_entries_have_exactly_their_languages_forms() -> None:
    """A text with plural forms in one language has them in every language, each with the
    forms that language's CLDR rules name (nl and en: one, other), and says {count}."""
    plural = {
        lang: {k for k, v in catalogue(lang).items() if isinstance(v, dict)} for lang in LANGUAGES
    }
    assert plural["nl"], "no plural entries at all"
    for lang in LANGUAGES:
        assert plural[lang] == plural["nl"], (
            f"plural in one language only: {plural[lang] ^ plural['nl']}"
        )
        for key in plural[lang]:
            entry = catalogue(lang)[key]
            assert isinstance(entry, dict)
            assert set(entry) == plural_forms(lang), f"{lang} {key}: forms {sorted(entry)}"
            for form, text in entry.items():
                assert "{count" in text or form == "one", (
                    f"{lang} {key}.{form} does not show the number"
                )


def test_plural_chosen_by_count() -> None:
    assert t("nl", "report.photos_so_far", count=1, max=5).startswith("1 foto ontvangen")
    assert t("nl", "report.photos_so_far", count=3, max=5).startswith("3 foto's ontvangen")
    assert t("en", "report.photos_so_far", count=1, max=5).startswith("1 photo received")
    assert t("en", "report.photos_so_far", count=0, max=5).startswith("0 photos received")


def test_plural_without_count_raises() -> None:
    with pytest.raises(KeyError):
        t("nl", "report.photos_so_far", max=5)


def test_no_hedged_plurals_or_doubled_punctuation_in_catalogues() -> None:
    """'foto('s)', 'gezicht(en)', 'photo(s)' are what plural forms replace; a text ending in a
    placeholder followed by a period doubles a question mark the placeholder may end with."""
    import re

    hedge = re.compile(r"\w\((?:'s|s|en|n)\)")
    for lang in LANGUAGES:
        for key, entry in catalogue(lang).items():
            for text in _texts(entry):
                assert not hedge.search(text), f"{lang} {key}: {text}"


def test_plural_keys_are_called_with_count() -> None:
    """Every literal t(..., 'key', ...) of a plural entry passes count= (else it raises)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    plural = {k for k, v in catalogue("nl").items() if isinstance(v, dict)}
    call = re.compile(
        r"""\bt\((?:[\w.]+,\s*)?["']([a-z_]+\.[a-z_.]+)["']([^()]*(?:\([^()]*\)[^()]*)*)\)"""
    )
    missing = []
    for folder in ("bot", "dialogs", "adapters"):
        for path in (root / folder).rglob("*.py"):
            for key, rest in call.findall(path.read_text()):
                if key in plural and "count" not in rest:
                    missing.append(f"{path.relative_to(root)}: {key}")
    assert not missing, missing


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
