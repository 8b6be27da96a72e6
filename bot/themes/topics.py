"""Which known topics (topics.toml) an answer's words point to.

Open answers are short and paraphrase a lot, so two answers about pay may share no word at
all ("loon omhoog" and "we verdienen te weinig"). A topic is one more feature of each answer
that names it; the clustering still decides how many themes there are and which answers go
together. Lookups are cached per distinct lemma: a corpus holds far fewer words than tokens.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from rapidfuzz import fuzz, process

from bot.themes.text import fold

# A word this long also matches inside a compound ("thuiswerkvergoeding").
INSIDE = 6
# How close a word nobody listed must be to a listed one to count as a typo of it.
TYPO_SCORE = 85
TYPO_MIN_LENGTH = 5


@dataclass(frozen=True, slots=True)
class _Lexicon:
    exact: dict[str, frozenset[str]]
    prefixes: tuple[tuple[str, str], ...]  # (word beginning, topic)
    inside: tuple[tuple[str, str], ...]  # (word of INSIDE+ letters, topic)
    plain: tuple[str, ...]  # the listed whole words, for typos


@cache
def _lexicon() -> _Lexicon:
    text = resources.files("bot.themes").joinpath("topics.toml").read_text("utf-8")
    exact: dict[str, set[str]] = {}
    prefixes, inside = [], []
    for topic, words in tomllib.loads(text)["topics"].items():
        for raw in words.split():
            word = fold(raw)
            stem = word.rstrip("*=")
            exact.setdefault(stem, set()).add(topic)
            if word.endswith("*"):
                prefixes.append((stem, topic))
            if len(stem) >= INSIDE and not word.endswith("="):
                inside.append((stem, topic))
    return _Lexicon(
        exact={w: frozenset(t) for w, t in exact.items()},
        prefixes=tuple(prefixes),
        inside=tuple(inside),
        plain=tuple(sorted(exact)),
    )


@lru_cache(maxsize=100_000)
def topics_of(word: str) -> frozenset[str]:
    """The topics a folded lemma points to: listed, a listed beginning, a long listed word
    inside it (compounds), or else a near spelling of a listed word (typos)."""
    lex = _lexicon()
    found = set(lex.exact.get(word, ()))
    found.update(topic for stem, topic in lex.prefixes if word.startswith(stem))
    found.update(topic for stem, topic in lex.inside if stem in word)
    if not found and len(word) >= TYPO_MIN_LENGTH:
        near = process.extractOne(
            word, lex.plain, scorer=fuzz.ratio, score_cutoff=TYPO_SCORE, processor=None
        )
        # A typo keeps the first letter and about the length ('werken' is no 'inwerken').
        if near is not None and near[0][0] == word[0] and abs(len(near[0]) - len(word)) <= 1:
            found.update(lex.exact[near[0]])
    return frozenset(found)
