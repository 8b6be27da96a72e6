"""The choices of a question, read into what a typed reply is matched against.

Each label becomes an `Option`: its folded words, whether it reads as yes/no/don't know/maybe
("Ja, met naam" is yes-like) and whether it is itself a number ("3", "3 dagen"). The helpers
here say what one typed fragment is: a position ("de tweede", "2e optie"), a polarity ("nee
hoor"), the whole words or the start of a label ("ma" for "Maandag"), or a typo of one. They
only find candidates; answers.py decides between matched, ambiguous and not understood.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from rapidfuzz import fuzz

from bot.text import ascii_int
from bot.understand.normalize import phrases, words
from bot.understand.vocabulary import listed, numbers, section, word_set

# Fuzzy scores are rapidfuzz's 0-100 normalised Indel similarity. The corpus (tests/corpus)
# has no misread at these values: "kerstpaket" → "Kerstpakket" scores 95, "marike" →
# "Marieke" 92, while unrelated short words stay well below 80.
FUZZY_ACCEPT = 84.0
# A second label this close to the best one makes the reply ambiguous.
FUZZY_MARGIN = 8.0
# How well each typed word must fit somewhere in the label (rapidfuzz partial_ratio).
FUZZY_COVER = 75.0
# Typed words shorter than this are never fuzzily matched ("ja" vs "jan", "wo" vs "wc").
FUZZY_MIN_LEN = 4

YES = "yes"
NO = "no"
DONT_KNOW = "dont_know"
MAYBE = "maybe"

# Word lists (folded forms) from words.toml, [answers].
LEADING = phrases(*listed("answers.leading"))
TRAILING = phrases(*listed("answers.trailing"))
CONSENT_ALONE = word_set("answers.consent_alone")
NEGATIONS = word_set("answers.negations")
JOINERS = word_set("answers.joiners")
OR_WORDS = word_set("answers.or_words")
ALL = frozenset(tuple(words(p)) for p in listed("answers.all"))
STOPWORDS = word_set("answers.stopwords") | NEGATIONS
EMOJI_YES = frozenset(section("answers.emoji")["yes"])
EMOJI_NO = frozenset(section("answers.emoji")["no"])
_NUMBER_WORDS = numbers("numbers")
_ORDINAL_WORDS = numbers("answers.ordinals")
_LAST = word_set("answers.last")
_ORDINAL_SUFFIXES = listed("answers.ordinal_suffixes")
_NUMBER_NOUNS = word_set("answers.number_nouns")


def _polarity_table() -> dict[tuple[str, ...], str]:
    """Typed phrase → polarity; a phrase under two polarities counts for the first listed."""
    table: dict[tuple[str, ...], str] = {}
    for pol in (DONT_KNOW, MAYBE, NO, YES):
        for item in listed(f"answers.polarity.{pol}"):
            table.setdefault(tuple(words(item)), pol)
    return table


_POLARITY = _polarity_table()
# Labels are classified by their leading words, e.g. "Ja, met naam" is yes-like.
_NOT_LABEL_POLARITY = frozenset(tuple(words(w)) for w in listed("answers.not_label_polarity"))
_LABEL_POLARITY_LEAD = {k: v for k, v in _POLARITY.items() if k not in _NOT_LABEL_POLARITY}


class ChoiceLike(Protocol):
    """What a choice needs to be read against: bot.messages.Choice fits."""

    @property
    def label(self) -> str: ...

    @property
    def payload(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Option:
    """One choice as the reader sees it."""

    index: int  # 1-based position
    payload: str
    words: tuple[str, ...]
    text: str  # folded words joined by one space
    polarity: str | None
    number: int | None  # the label read as a number ("3", "3 dagen")


def options(choices: Sequence[ChoiceLike]) -> list[Option]:
    """The choices as options, numbered from 1 in the order shown."""
    result = []
    for i, choice in enumerate(choices, start=1):
        w = tuple(words(choice.label))
        result.append(Option(i, choice.payload, w, " ".join(w), label_polarity(w), label_number(w)))
    return result


# Labels that answer a don't-know without saying so ("Vertel me meer" to "Heb je interesse?"):
# a typed "weet ik niet" picks them, but typing them is no don't-know anywhere else.
_LABEL_ONLY = {
    tuple(words(w)): pol
    for pol in ("dont_know", "maybe")
    for w in listed(f"answers.label_polarity.{pol}")
}


def label_polarity(label: tuple[str, ...]) -> str | None:
    if label in _POLARITY:
        return _POLARITY[label]
    if label in _LABEL_ONLY:
        return _LABEL_ONLY[label]
    for size in range(min(4, len(label)), 0, -1):
        pol = _LABEL_POLARITY_LEAD.get(label[:size])
        if pol is not None:
            return pol
    return None


def label_number(label: tuple[str, ...]) -> int | None:
    return ascii_int(label[0]) if label else None


def polarity_of(seq: Sequence[str]) -> str | None:
    """The polarity of a whole typed phrase ("nee hoor" → no), after fillers."""
    return _POLARITY.get(tuple(seq))


def position(seq: Sequence[str], count: int) -> int | None:
    """A typed position: 1..count, None when `seq` is no number at all, or minus the number
    typed when it is past the choices (-7 for "7" of three)."""
    seq = list(seq)
    while len(seq) > 1 and seq[0] in _NUMBER_NOUNS:
        seq = seq[1:]
    if len(seq) == 2 and seq[1] in _NUMBER_NOUNS - {"de", "het", "the", "no"}:
        seq = seq[:1]  # "2e optie", "second option"
    if len(seq) == 2 and seq[1] in _ORDINAL_SUFFIXES:
        seq = [seq[0] + seq[1]]  # "2 e" from "2.e"
    if len(seq) != 1:
        return None
    word = seq[0]
    n: int | None = ascii_int(word)
    if n is None:
        n = _NUMBER_WORDS.get(word) or _ORDINAL_WORDS.get(word)
    if n is None and word in _LAST:
        n = count
    if n is None:
        for suffix in _ORDINAL_SUFFIXES:
            if word.endswith(suffix) and ascii_int(word[: -len(suffix)]) is not None:
                n = ascii_int(word[: -len(suffix)])
                break
    if n is None:
        return None
    return n if 1 <= n <= count else -n


def windows(label: tuple[str, ...], size: int) -> set[tuple[str, ...]]:
    return {label[i : i + size] for i in range(len(label) - size + 1)}


def fragment_hits(seq: Sequence[str], options: Sequence[Option]) -> list[Option]:
    """Options whose label holds `seq` as consecutive whole words, or whose label words start
    with each typed word (≥ 2 letters: "ma" → "maandag"); stopwords alone never count."""
    if not seq or all(w in STOPWORDS for w in seq):
        return []
    n = len(seq)
    whole = [
        o
        for o in options
        if any(tuple(o.words[i : i + n]) == tuple(seq) for i in range(len(o.words) - n + 1))
    ]
    if whole:
        return whole
    if n != 1 or len(seq[0]) < 2 or ascii_int(seq[0]) is not None:
        return []
    return [o for o in options if any(w.startswith(seq[0]) and w != seq[0] for w in o.words)]


def fuzzy(seq: Sequence[str], options: Sequence[Option]) -> tuple[list[Option], bool]:
    """(best options, ambiguous?) by typo-tolerant match; ([], False) when nothing is close."""
    typed = " ".join(seq)
    if len(typed.replace(" ", "")) < FUZZY_MIN_LEN:
        return [], False
    scored: list[tuple[float, Option]] = []
    n = len(seq)
    for o in options:
        best = fuzz.ratio(typed, o.text)
        for size in {n, n + 1, max(1, n - 1)}:
            for i in range(len(o.words) - size + 1):
                window = o.words[i : i + size]
                if all(w in STOPWORDS for w in window):
                    continue
                best = max(best, fuzz.ratio(typed, " ".join(window)))
        scored.append((best, o))
    scored.sort(key=lambda s: s[0], reverse=True)
    top = scored[0][0]
    if top < FUZZY_ACCEPT:
        return [], False
    close = [o for s, o in scored if s >= top - FUZZY_MARGIN and s >= FUZZY_ACCEPT - FUZZY_MARGIN]
    # Every typed word must be (a typo of) part of the label: a close score can also come
    # from the label plus a word that changes it ("nee kerstpakket", "kerstpakket bon").
    close = [
        o
        for o in close
        if all(fuzz.partial_ratio(w, o.text) >= FUZZY_COVER for w in seq if len(w) >= 3)
    ]
    return close, len(close) > 1
