"""Free text with no dialog running, read as one of the bot's jobs (an intent), or none.

"ik wil iets onveiligs melden", "ik wil marieke nomineren", "nieuwe peilign", "english
please", "antwoord 1 meer personeel in het magazijn": people say what they want in their own
words. This module only names the job; the dialog that does it confirms where the act
matters (opting out of news always asks first), and checks who may do it (stats are for OR
members).

How: each intent has key phrases (folded words). A phrase matches when all its words occur
in the text, each exactly or, for words of 5+ letters, with a typo (rapidfuzz ratio at least
FUZZY_WORD, and only when the typed word is not itself a key word of another intent:
"afmelden" is opting out, not a misspelt "melden"). The intent whose matched phrase is the
longest wins; a tie between two intents is `AmbiguousIntent` (the bot asks which one). A
negation outside the phrase ("ik wil niets melden", "geen peiling maken") means no intent.
"stop" alone is no intent at all: it ends a dialog, it never unsubscribes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from bot.text import ascii_int
from bot.understand.normalize import foreign_digits, tokens, words
from bot.understand.vocabulary import section, word_set

FUZZY_WORD = 85.0
FUZZY_MIN_LEN = 5

REPORT = "report"
NOMINATE = "nominate"
CHANGE_VOTE = "change_vote"
OPT_OUT_NEWS = "opt_out_news"
STATS = "stats"
LANGUAGE = "language"
NEW_POLL = "new_poll"
HELP = "help"
RESULTS = "results"
ANSWER = "answer"


@dataclass(frozen=True, slots=True)
class Intent:
    """A job the person asked for.

    `arg`: for language "nl"/"en"; for nominate the name typed with it ("marieke"), if any;
    for new_poll "anonymous" when an anonymous poll was asked for; for answer the text as
    typed. `number`: for answer, the question number.
    """

    name: str
    arg: str = ""
    number: int | None = None


@dataclass(frozen=True, slots=True)
class AmbiguousIntent:
    """Two jobs fit equally well: ask which one."""

    names: tuple[str, ...]


# Word lists (folded forms) from words.toml, [intents]. Each phrase is (intent, arg, words),
# in the order of the file (the first of two equally long matches counts); all words of a
# phrase must occur.
_PHRASES: tuple[tuple[str, str, tuple[str, ...]], ...] = tuple(
    (entry["intent"], entry.get("arg", ""), tuple(words(p)))
    for entry in section("intents.phrases")
    for p in entry["phrases"]
)
_KEYWORDS = frozenset(w for _, _, p in _PHRASES for w in p)
_NEGATIONS = word_set("intents.negations")
# Words a name for nominate is not made of.
_NOT_A_NAME = _KEYWORDS | _NEGATIONS | word_set("intents.not_a_name")
_ANSWER_WORDS = word_set("intents.answer_words")
_ANSWER_SKIP = word_set("intents.answer_skip")


def _word_matches(typed: str, key: str, *, fuzzy: bool = True) -> bool:
    if typed == key:
        return True
    if not fuzzy or len(key) < FUZZY_MIN_LEN or len(typed) < FUZZY_MIN_LEN or typed in _KEYWORDS:
        return False
    return fuzz.ratio(typed, key) >= FUZZY_WORD or _swapped(typed, key)


def _swapped(typed: str, key: str) -> bool:
    """Two neighbouring letters swapped ("meldne" for "melden"): a typo the plain ratio
    punishes (83), and one that makes no other word."""
    if len(typed) != len(key):
        return False
    diff = [i for i, (a, b) in enumerate(zip(typed, key, strict=True)) if a != b]
    return (
        len(diff) == 2
        and diff[1] == diff[0] + 1
        and typed[diff[0]] == key[diff[1]]
        and typed[diff[1]] == key[diff[0]]
    )


def _answer(text: str) -> Intent | None:
    """ "antwoord 1 meer personeel" → answer question 1 with "meer personeel" (as typed)."""
    toks = tokens(text)
    if len(toks) < 3 or toks[0].word not in _ANSWER_WORDS:
        return None
    found = numbered_answer(text[toks[1].start :])
    return None if found is None else Intent(ANSWER, found[1], found[0])


def numbered_answer(text: str) -> tuple[int, str] | None:
    """ "1 meer personeel", "op vraag 3: de lift": (question number, answer as typed), or
    None when no number with text after it leads the text."""
    if foreign_digits(text):
        return None
    toks = tokens(text)
    i = 0
    while i < len(toks) and toks[i].word in _ANSWER_SKIP:
        i += 1
    if i >= len(toks) - 1:
        return None
    number = ascii_int(toks[i].word, low=1)
    if number is None:
        return None
    return number, text[toks[i + 1].start :].strip()


def understand_intent(text: str) -> Intent | AmbiguousIntent | None:
    """The job `text` asks for, `AmbiguousIntent` when two fit equally, or None."""
    if not text or not text.strip() or foreign_digits(text):
        return None  # "antwoord ² ...": "²" folds to a 2, but it is no number
    answer = _answer(text)
    if answer is not None:
        return answer
    typed = words(text)
    if not typed:
        return HELP_INTENT if text.strip() == "?" else None
    best: dict[tuple[str, str], int] = {}
    used: dict[tuple[str, str], set[str]] = {}
    for name, arg, phrase in _PHRASES:
        # Language names are short and near other words ("engelse les"): exact only.
        fuzzy = name != LANGUAGE
        hits = [next((t for t in typed if _word_matches(t, w, fuzzy=fuzzy)), None) for w in phrase]
        if all(h is not None for h in hits):
            key = (name, arg)
            if len(phrase) > best.get(key, 0):
                best[key] = len(phrase)
                used[key] = {h for h in hits if h is not None}
    if not best:
        return None
    top = max(best.values())
    winners = [k for k, v in best.items() if v == top]
    names = sorted({k[0] for k in winners})
    if len(names) > 1:
        # A longer, more specific phrase of one intent beats a one-word hit of another only
        # when the lengths differ; equal lengths are ambiguous.
        return AmbiguousIntent(tuple(names))
    key = max(winners, key=lambda k: k[1])  # "anonymous" over "" for new_poll
    if any(t in _NEGATIONS and t not in used[key] for t in typed):
        return None
    name, arg = key
    if name == NOMINATE:
        arg = " ".join(t for t in typed if t not in _NOT_A_NAME and t not in used[key])
    return Intent(name, arg)


HELP_INTENT = Intent(HELP)


def intent_names() -> Sequence[str]:
    """Every intent name this module can return (for the dialogs' dispatch table)."""
    return (
        REPORT,
        NOMINATE,
        CHANGE_VOTE,
        OPT_OUT_NEWS,
        STATS,
        LANGUAGE,
        NEW_POLL,
        HELP,
        RESULTS,
        ANSWER,
    )
