"""A colleague's name as typed ("mariek van dijck", "marike", "jerun"), found on the roster.

People type names the way they say them: a first name, a misspelt surname, "van dijck" for
"van Dijk". The roster search (storage/roster_search.search_roster) finds exact names and parts
of names; this module is the second try when it finds no one, on the names that
storage/roster_search.typo_candidates fetches for `typed_words`: every typed word must be close
(rapidfuzz ratio) to a different word of the name. It never picks one of several: all that fit
are returned, best first, and the dialog asks which one is meant (a misread is worse than a
refusal). Name particles ("van", "de", "der") are matched exactly when typed and may be left
out ("mariek dijck").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.distance import JaroWinkler

from bot.understand.normalize import words
from bot.understand.vocabulary import word_set

# A typed word of 4+ letters fits a name word at this score (0-100): "jerun"/"jeroen" 85,
# "marike"/"marieke" 92, "dijck"/"dijk" 89; "jan"/"jos" stays out because 3-letter words
# must be exact (or the start of the name word).
WORD_FIT = 80.0
MIN_FUZZY_LEN = 4
# Candidates scoring this far below the best are left out of the question.
MARGIN = 12.0

_PARTICLES = word_set("names.particles")


@dataclass(frozen=True, slots=True)
class NameFit:
    """One roster entry that fits, with how well (the mean ratio of the typed words)."""

    person_id: int
    score: float


def _word_fit(typed: str, name_word: str) -> float:
    if typed == name_word:
        return 100.0
    if name_word.startswith(typed) and len(typed) >= 3:
        return 95.0  # "joo" for "joost": a start typed on purpose
    if len(typed) < MIN_FUZZY_LEN or len(name_word) < MIN_FUZZY_LEN - 1:
        return 0.0
    # Jaro-Winkler weighs the start of a name, which people get right ("jerun" for
    # "jeroen": ratio 73, Jaro-Winkler 90); the plain ratio catches a wrong first letter.
    return max(fuzz.ratio(typed, name_word), JaroWinkler.similarity(typed, name_word) * 100 - 5)


def _fit(typed: Sequence[str], name: Sequence[str]) -> float | None:
    """The mean ratio when each typed word fits its own word of the name, in order of the
    best fits; None when a word fits none."""
    free = list(name)
    scores = []
    for word in typed:
        best_i, best = -1, 0.0
        for i, candidate in enumerate(free):
            score = _word_fit(word, candidate)
            if score > best:
                best_i, best = i, score
        if best < WORD_FIT:
            return None
        scores.append(best)
        free.pop(best_i)
    return sum(scores) / len(scores)


def typed_words(query: str) -> list[str]:
    """The folded words of a typed name that must each fit a word of the name (particles
    are not required)."""
    return [w for w in words(query) if w not in _PARTICLES]


def fuzzy_names(query: str, people: Sequence[tuple[int, str]]) -> list[NameFit]:
    """The people (id, name) whose name fits `query` with typos, best first; the ones far
    below the best are left out. Particles typed are matched exactly and not required."""
    typed = typed_words(query)
    if not typed:
        return []
    fits = []
    for person_id, name in people:
        name_words = [w for w in words(name) if w not in _PARTICLES]
        score = _fit(typed, name_words)
        if score is not None:
            fits.append(NameFit(person_id, score))
    if not fits:
        return []
    top = max(f.score for f in fits)
    return sorted((f for f in fits if f.score >= top - MARGIN), key=lambda f: -f.score)
