"""Words colleagues type for the words on the buttons ("zonder naam" for "anoniem",
"verstuur" for "versturen", "kadobon" for "cadeaubon"), from words.toml [answers.synonyms].

Used only as a second try, when a reply read as typed fits nothing (answers.py): a synonym
can then only turn a refusal into an answer or a question, never change a reading.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.understand.normalize import words
from bot.understand.vocabulary import LANGUAGES, section

_SYNONYMS: dict[tuple[str, ...], tuple[str, ...]] = {
    tuple(words(typed)): tuple(words(meant))
    for lang in LANGUAGES
    for typed, meant in section("answers.synonyms").get(lang, {}).items()
}
_LONGEST = max((len(k) for k in _SYNONYMS), default=0)


def with_synonyms(seq: Sequence[str]) -> list[str] | None:
    """`seq` with every listed phrase (longest first) replaced by the word it stands for;
    None when nothing was replaced."""
    out: list[str] = []
    i, changed = 0, False
    while i < len(seq):
        for size in range(min(_LONGEST, len(seq) - i), 0, -1):
            meant = _SYNONYMS.get(tuple(seq[i : i + size]))
            if meant is not None:
                out.extend(meant)
                i += size
                changed = True
                break
        else:
            out.append(seq[i])
            i += 1
    return out if changed else None
