"""Answers to words: lower case, tokens, lemmas (simplemma, Dutch then English), stop words out.

simplemma's dictionaries ship inside its wheel, so this runs with no network and no model
download. A lemma is looked up once per distinct token (an LRU cache): 10,000 answers hold
far fewer distinct words than tokens, and the lookup is most of the cost.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from functools import cache, lru_cache
from importlib import resources

import simplemma

LANGS = ("nl", "en")
# Letters (with accents) and inner apostrophes or hyphens: "burn-out", "wi'j", "cao's".
_TOKEN = re.compile(r"[^\W\d_](?:[^\W\d_]|['’-](?=[^\W\d_]))*", re.UNICODE)
MIN_LENGTH = 3


@cache
def stop_words() -> frozenset[str]:
    """Dutch and English stop words (words.toml), with accents folded as tokens are."""
    data = tomllib.loads(resources.files("bot.themes").joinpath("words.toml").read_text("utf-8"))
    return frozenset(fold(w) for lang in LANGS for w in data[lang].split())


@lru_cache(maxsize=100_000)
def fold(word: str) -> str:
    """Lower case without accents: 'geïndexeerd' and 'geindexeerd' are one word."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("’", "'")


def tokens(text: str) -> list[str]:
    """The words of an answer, folded (accents off, lower case)."""
    return [fold(m) for m in _TOKEN.findall(text.lower())]


@lru_cache(maxsize=100_000)
def lemma(token: str) -> str:
    """The dictionary form, Dutch first ('salarissen' → 'salaris', 'roosters' → 'rooster'),
    then English ('schedules' → 'schedule'); a word neither knows stays as it is."""
    found = simplemma.lemmatize(token, lang=LANGS)
    return fold(found) if found else token


def content_words(text: str) -> list[str]:
    """The lemmas that say what an answer is about: stop words and short words left out."""
    return [word for _, word in content_pairs(text)]


def content_pairs(text: str) -> list[tuple[str, str]]:
    """(token, lemma) of the words that say what an answer is about. The lemma groups
    'roosters' with 'rooster'; the token is what people wrote, for labels ('roosteren', the
    lemma simplemma gives, reads as a verb)."""
    stops = stop_words()
    pairs = []
    for token in tokens(text):
        if len(token) < MIN_LENGTH or token in stops:
            continue
        word = lemma(token)
        if len(word) >= MIN_LENGTH and word not in stops:
            pairs.append((token, word))
    return pairs
