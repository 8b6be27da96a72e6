"""One normal form of typed text for the readers of answers, times and intents.

People type "Ja!", "ja hoor 👍", "Kerstpakket graag!", "2️⃣" or "Één": case, accents,
punctuation and emoji carry no meaning for matching, so they are folded away here, once.
Digits are the exception: only ASCII 0-9 count (bot/text.py), so text holding another
script's digit or a superscript ("²") is flagged before folding, because NFKD would turn
"²" into a "2" and make a misread out of something that is no number at all.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.text import has_foreign_digits

# A keycap emoji is a digit, an optional variation selector and U+20E3: "2️⃣" is 2.
_KEYCAP = re.compile("([0-9#*])\ufe0f?\u20e3")
# Apostrophes and the like join words ("don't", "'s avonds"); other marks separate them.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
_TOKEN = re.compile(r"[0-9a-z]+(?:'[a-z]+)*|'[a-z]+")
# Characters that split one answer from the next ("1, 3", "ma/wo", "a + b", "a; b").
SEPARATORS = frozenset(",;/+&")


def fold(text: str) -> str:
    """Lower case without accents, keycaps as plain digits, curly apostrophes as straight ones.

    Emoji and other symbols stay in the string (callers that tokenise drop them), so that a
    lone 👍 can still be seen.
    """
    text = _KEYCAP.sub(r"\1", text).translate(_APOSTROPHES)
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@dataclass(frozen=True, slots=True)
class Token:
    """One word of the folded text, with where it was in the text as typed.

    `start`/`end` index the original text, so that a remark after an answer can be cut out
    with its own capitals and accents. `sep_before` says a separator mark (",", "/", "+"...)
    stood between this word and the previous one.
    """

    word: str
    start: int
    end: int
    sep_before: bool


def tokens(text: str) -> list[Token]:
    """The words of `text` in folded form, with their spans in `text` as typed.

    Folding is done per character so that spans stay exact (NFKD may change lengths): each
    original character maps to its folded form, and a word's span runs from its first to its
    last original character.
    """
    text = _KEYCAP.sub(lambda m: m.group(1) + " " * (len(m.group(0)) - 1), text)
    folded_chars: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        for out in fold(ch):
            folded_chars.append(out)
            origin.append(i)
    folded = "".join(folded_chars)
    result: list[Token] = []
    last_end = 0
    for m in _TOKEN.finditer(folded):
        between = folded[last_end : m.start()]
        sep = any(ch in SEPARATORS for ch in between) or bool(
            result and re.search(r"[.!?:]", between)
        )
        word = m.group(0).strip("'")
        if word:
            result.append(Token(word, origin[m.start()], origin[m.end() - 1] + 1, sep))
        last_end = m.end()
    return result


def words(text: str) -> list[str]:
    """Just the folded words of `text`: "Kerstpakket graag!" → ["kerstpakket", "graag"]."""
    return [t.word for t in tokens(text)]


def foreign_digits(text: str) -> bool:
    """Whether `text` holds a digit that is not ASCII ("²", "١", "１"): never read as one."""
    return has_foreign_digits(_KEYCAP.sub(r"\1", text))


def strip_phrases(
    seq: list[str], leading: tuple[tuple[str, ...], ...], trailing: tuple[tuple[str, ...], ...]
) -> tuple[int, int]:
    """The [start, end) window of `seq` left after dropping filler phrases at either edge.

    Phrases are tried longest first and repeatedly ("ik denk de tweede graag hoor" loses
    "ik denk", "de", "graag" and "hoor"); a window is never emptied by this.
    """
    start, end = 0, len(seq)
    changed = True
    while changed:
        changed = False
        for phrase in leading:
            n = len(phrase)
            if end - start > n and tuple(seq[start : start + n]) == phrase:
                start += n
                changed = True
                break
        for phrase in trailing:
            n = len(phrase)
            if end - start > n and tuple(seq[end - n : end]) == phrase:
                end -= n
                changed = True
                break
    return start, end


def phrases(*items: str) -> tuple[tuple[str, ...], ...]:
    """Filler phrases as word tuples, longest first (so "doe mij maar" beats "doe")."""
    return tuple(sorted((tuple(words(i)) for i in items), key=len, reverse=True))
