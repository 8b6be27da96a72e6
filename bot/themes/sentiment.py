"""Positive, neutral or negative: a small Dutch and English lexicon (sentiment.toml).

No model: the answers stay on the OR's server and nothing is downloaded. The lexicon is
matched on folded tokens and their lemmas, with a rapidfuzz fallback for typos, and reads
three habits of open answers: a negation flips the next sentiment word ("niet goed"),
"te"/"too" before a word makes it a complaint ("te duur", "veel te druk", "too late"), and
in a wish ("graag", "zou", "moet", "meer") a positive word is what is asked for, not praise.
An answer's score is (positive − negative) / (positive + negative), 0 when it has neither.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, lru_cache
from importlib import resources

from rapidfuzz import fuzz, process

from bot.themes.text import fold, lemma, tokens

NEGATION_REACH = 3  # words after a negation that it may flip
TYPO_SCORE = 88
TYPO_MIN_LENGTH = 5
# A theme leans one way when its answers' mean score is at least this far from 0.
LEAN = 0.2


class Sentiment(StrEnum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"


@dataclass(frozen=True, slots=True)
class _Lexicon:
    polarity: dict[str, int]
    negations: frozenset[str]
    excess: frozenset[str]
    wishes: frozenset[str]
    words: tuple[str, ...]


@cache
def _lexicon() -> _Lexicon:
    text = resources.files("bot.themes").joinpath("sentiment.toml").read_text("utf-8")
    data = tomllib.loads(text)
    polarity = {fold(w): 1 for w in data["positive"].split()}
    polarity.update({fold(w): -1 for w in data["negative"].split()})
    return _Lexicon(
        polarity=polarity,
        negations=frozenset(fold(w) for w in data["negations"].split()),
        excess=frozenset(fold(w) for w in data["excess"].split()),
        wishes=frozenset(fold(w) for w in data["wishes"].split()),
        words=tuple(sorted(polarity)),
    )


@lru_cache(maxsize=100_000)
def polarity(token: str) -> int:
    """+1, -1 or 0 for a folded token: listed as it is, by its lemma, or as a near
    spelling of a listed word with the same first letter ('tevreeden', 'smering')."""
    lex = _lexicon()
    if token in lex.polarity:
        return lex.polarity[token]
    base = lemma(token)
    if base in lex.polarity:
        return lex.polarity[base]
    if len(token) >= TYPO_MIN_LENGTH:
        near = process.extractOne(
            token, lex.words, scorer=fuzz.ratio, score_cutoff=TYPO_SCORE, processor=None
        )
        if near is not None and near[0][0] == token[0]:
            return lex.polarity[near[0]]
    return 0


def score(text: str) -> float:
    """From -1 (all negative) to +1 (all positive); 0 for none or as many of each."""
    lex = _lexicon()
    positive = negative = 0
    flip_until = -1
    excess = False
    words = tokens(text)
    wish = any(token in lex.wishes for token in words)
    for i, token in enumerate(words):
        if token in lex.negations:
            flip_until = i + NEGATION_REACH
            continue
        if token in lex.excess:
            excess = True
            continue
        value = polarity(token)
        if excess and value == 0 and token not in ("veel", "much", "way"):
            value = -1  # "te laat", "te klein": a complaint whatever the word
        excess = excess and token in ("veel", "much", "way")
        if value and i <= flip_until:
            value, flip_until = -value, -1
        positive += value > 0 and not wish
        negative += value < 0
    total = positive + negative
    return (positive - negative) / total if total else 0.0


def overall(scores: list[float]) -> Sentiment:
    """A group's sentiment: the mean of its answers' scores, leaning past ±LEAN."""
    mean = sum(scores) / len(scores) if scores else 0.0
    if mean >= LEAN:
        return Sentiment.POSITIVE
    if mean <= -LEAN:
        return Sentiment.NEGATIVE
    return Sentiment.NEUTRAL


def leaning(scores: list[float]) -> dict[str, int]:
    """How many answers are positive, neutral and negative."""
    return {
        Sentiment.POSITIVE: sum(s > 0 for s in scores),
        Sentiment.NEUTRAL: sum(s == 0 for s in scores),
        Sentiment.NEGATIVE: sum(s < 0 for s in scores),
    }
