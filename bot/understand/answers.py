"""A typed reply read against the choices of a question: matched, ambiguous, or not understood.

Colleagues do not type menu numbers: they type "ja hoor 👍", "nee, de broek is te warm",
"de tweede", "kerstpaket", "doe mij maar een extra vrije dag 😄" or "ma, wo". Each of these is
read here, and the rule throughout is that a misread is worse than a refusal: whenever two
readings are plausible the result is `Ambiguous` (the bot asks "Bedoel je A of B?"), and
whatever fits no reading well is `NotUnderstood` with a reason key the dialog can explain.

The readings, tried in this order on the reply with filler words cut off its edges:
1. the label itself (folded: case, accents, punctuation and emoji do not count);
2. a number or ordinal ("2", "2️⃣", "nummer 3", "optie 2", "de tweede", "drie", "third"),
   ASCII digits only; when a label is itself a number ("3", "5", "7") and the typed number
   names one choice by position and another by label, that is ambiguous;
3. yes / no / don't know / maybe in Dutch and English ("jup", "nee hoor", "geen idee",
   "don't know") onto the choices whose label reads that way; a yes-word with no yes-like
   choice is not understood rather than fuzzily matched ("ja" is not "Januari");
4. whole words of one label ("productie" for "Afdeling Productie", "marieke"), or the start
   of a label's word ("ma" for "Maandag");
5. a typo-tolerant match (rapidfuzz) of the reply against each label and against each run of
   the label's words: accepted only above FUZZY_ACCEPT and only when no other label comes
   within FUZZY_MARGIN of it (then it is ambiguous).
A reply that names several choices ("1 en 3", "ma, wo", "kerstpakket en extra vrije dag") is
split on separators and "en"/"and"; "A of B" is always ambiguous. When the whole reply does
not match, its longest leading part that does is the answer and the rest a remark ("nee, de
broek is te warm"); a remark that itself names another choice ("ja, nee") makes it ambiguous.
A negation that the label does not carry ("geen kerstpakket") is never read as that label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from rapidfuzz import fuzz

from bot.text import ascii_int
from bot.understand.normalize import foreign_digits, phrases, strip_phrases, tokens, words

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


class ChoiceLike(Protocol):
    """What a choice needs to be read against: bot.messages.Choice fits."""

    @property
    def label(self) -> str: ...

    @property
    def payload(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Matched:
    """The reply chose `payloads` (one, or several for a multiple-choice question).

    `remark` is what the person wrote after the answer, as typed ("de broek is te warm"):
    a named poll keeps it as a comment, an anonymous one drops it and says so.
    """

    payloads: tuple[str, ...]
    remark: str = ""


@dataclass(frozen=True, slots=True)
class Ambiguous:
    """Two or more readings are plausible: ask "Bedoel je A of B?" with these payloads."""

    candidates: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NotUnderstood:
    """No reading fits. `reason` is a key for the re-ask text:

    empty, foreign_digits, out_of_range (a number past the last choice), no_match,
    negation ("geen kerstpakket"), no_yes_no_choice ("ja" to non-yes/no choices),
    one_only ("allemaal" to a question that takes one answer; several named answers to
    such a question are Ambiguous instead).
    """

    reason: str


Answer = Matched | Ambiguous | NotUnderstood

# ---------------------------------------------------------------------------------------------
# Word lists (folded forms). They are the bot's vocabulary for reading, not texts it shows.

_LEADING = phrases(
    "doe mij maar",
    "doe mij",
    "doe maar",
    "geef mij maar",
    "geef mij",
    "ik kies voor",
    "ik kies",
    "ik ga voor",
    "ik stem voor",
    "ik stem",
    "ik denk",
    "ik zeg",
    "ik wil",
    "ik neem",
    "ik heb liever",
    "liefst",
    "het liefst",
    "mijn keuze is",
    "mijn antwoord is",
    "dan",
    "toch",
    "uh",
    "eh",
    "euh",
    "hmm",
    "nou",
    "oke",
    "ok",
    "i choose",
    "i pick",
    "i'll take",
    "i ll take",
    "i'd say",
    "i d say",
    "i vote for",
    "i vote",
    "i think",
    "i go for",
    "i'll go for",
    "i ll go for",
    "my choice is",
    "my answer is",
    "let's go with",
    "let s go with",
    "well",
    "um",
    "uhm",
    "de",
    "het",
    "een",
    "the",
    "a",
    "an",
    "op",
    "bij",
    "in",
    "at",
)
_TRAILING = phrases(
    "graag",
    "alsjeblieft",
    "alstublieft",
    "aub",
    "hoor",
    "maar",
    "denk ik",
    "zou ik zeggen",
    "wat mij betreft",
    "toch",
    "natuurlijk",
    "please",
    "pls",
    "i think",
    "i guess",
    "thanks",
    "dank je",
    "dank je wel",
    "bedankt",
    "thank you",
    "wel",
    "one",
)
# Whole replies that are nothing but a filler of consent ("graag!" to "Wil je meedoen?").
_CONSENT_ALONE = frozenset({"graag", "please", "alsjeblieft", "graag hoor"})

_YES = "yes"
_NO = "no"
_DK = "dont_know"
_MAYBE = "maybe"
_POLARITY_WORDS: dict[str, tuple[str, ...]] = {
    _DK: (
        "weet ik niet",
        "weet niet",
        "weet het niet",
        "ik weet het niet",
        "ik weet niet",
        "geen idee",
        "geen flauw idee",
        "geen mening",
        "weet ik veel",
        "geen idee eigenlijk",
        "dont know",
        "don't know",
        "i don't know",
        "i dont know",
        "idk",
        "no idea",
        "not sure",
        "no opinion",
        "dunno",
        "weet ik nog niet",
        "nog geen idee",
        "onbekend",
        "ik heb geen idee",
        "neutraal",
        "neutral",
        "geen voorkeur",
        "no preference",
    ),
    _MAYBE: ("misschien", "wellicht", "mogelijk", "maybe", "perhaps", "misschien wel"),
    _NO: (
        "nee",
        "neen",
        "nein",
        "nope",
        "nah",
        "no",
        "niet",
        "liever niet",
        "zeker niet",
        "absoluut niet",
        "echt niet",
        "nooit",
        "no thanks",
        "no thank you",
        "nee bedankt",
        "nee dank je",
        "nee dankjewel",
        "nee hoor",
        "neej",
        "nee joh",
        "nee nee",
        "not really",
        "definitely not",
        "helemaal niet mee eens",
        "helemaal oneens",
        "nee zeker niet",
        "niet mee eens",
        "oneens",
        "disagree",
        "nee liever niet",
        "never",
        "nee, liever niet",
    ),
    _YES: (
        "ja",
        "jaa",
        "jaaa",
        "jawel",
        "jazeker",
        "ja zeker",
        "zeker",
        "zeker weten",
        "jup",
        "jep",
        "yep",
        "yes",
        "yess",
        "yeah",
        "yup",
        "ja graag",
        "jazeker wel",
        "akkoord",
        "prima",
        "goed",
        "oke",
        "ok",
        "okay",
        "okee",
        "sure",
        "of course",
        "natuurlijk",
        "absoluut",
        "tuurlijk",
        "uiteraard",
        "certainly",
        "definitely",
        "ja hoor",
        "ja joh",
        "helemaal mee eens",
        "helemaal eens",
        "ja ja",
        "yes please",
        "eens",
        "mee eens",
        "agree",
        "ja tuurlijk",
        "yes of course",
        "helemaal goed",
        "doen",
        "doe maar",
        "ja doe maar",
    ),
}
# Polarity of a typed phrase; longest phrases are matched first by `_polarity`.
_POLARITY: dict[tuple[str, ...], str] = {}
for _pol, _items in _POLARITY_WORDS.items():
    for _item in _items:
        _POLARITY.setdefault(tuple(words(_item)), _pol)

# Labels are classified by their leading words, e.g. "Ja, met naam" is yes-like.
_LABEL_POLARITY_LEAD: dict[tuple[str, ...], str] = {
    k: v
    for k, v in _POLARITY.items()
    if k
    not in {
        ("goed",),
        ("prima",),
        ("doen",),
        ("natuurlijk",),
        ("absoluut",),
        ("zeker",),
        ("niet",),
        ("nooit",),
        ("never",),
        ("onbekend",),
        ("mogelijk",),
    }
}

_NEGATIONS = frozenset(
    {"niet", "geen", "not", "no", "nee", "nooit", "never", "dont", "don't", "zonder", "without"}
)

_NUMBER_WORDS: dict[str, int] = {
    "een": 1,
    "eentje": 1,
    "twee": 2,
    "drie": 3,
    "vier": 4,
    "vijf": 5,
    "zes": 6,
    "zeven": 7,
    "acht": 8,
    "negen": 9,
    "tien": 10,
    "elf": 11,
    "twaalf": 12,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
_ORDINAL_WORDS: dict[str, int] = {
    "eerste": 1,
    "tweede": 2,
    "derde": 3,
    "vierde": 4,
    "vijfde": 5,
    "zesde": 6,
    "zevende": 7,
    "achtste": 8,
    "negende": 9,
    "tiende": 10,
    "elfde": 11,
    "twaalfde": 12,
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
}
_LAST = frozenset({"laatste", "last"})
_ORDINAL_SUFFIXES = ("ste", "de", "e", "st", "nd", "rd", "th")
# Words that may precede a number: "nummer 3", "optie 2", "nr 2", "keuze 1", "option 2".
_NUMBER_NOUNS = frozenset(
    {
        "nummer",
        "nr",
        "num",
        "optie",
        "keuze",
        "antwoord",
        "option",
        "choice",
        "number",
        "answer",
        "de",
        "het",
        "the",
    }
)
# Words that join several answers in one line ("1 en 3", "a and b").
_JOINERS = frozenset({"en", "and", "plus", "ook", "also"})
# "A of B" / "A or B": the person is hesitating between the two, never picking both.
_OR_WORDS = frozenset({"of", "or", "ofwel"})
# "All of them", for a question that takes several answers.
_ALL = frozenset(
    tuple(words(p))
    for p in (
        "alle",
        "allemaal",
        "alles",
        "alle drie",
        "alle vier",
        "allebei",
        "beide",
        "all",
        "all of them",
        "both",
        "everything",
        "alle opties",
        "all options",
    )
)
# Words too common to identify a label on their own ("de" in "Afdeling de Haven").
_STOPWORDS = (
    frozenset(
        {
            "de",
            "het",
            "een",
            "en",
            "van",
            "in",
            "op",
            "met",
            "voor",
            "the",
            "a",
            "an",
            "and",
            "of",
            "to",
            "with",
            "for",
            "at",
            "is",
            "ik",
            "je",
            "i",
            "dag",
            "day",
        }
    )
    | _NEGATIONS
)


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Option:
    index: int  # 1-based position
    payload: str
    words: tuple[str, ...]
    text: str  # folded words joined by one space
    polarity: str | None
    number: int | None  # the label read as a number ("3", "3 dagen")


def _options(choices: Sequence[ChoiceLike]) -> list[_Option]:
    result = []
    for i, choice in enumerate(choices, start=1):
        w = tuple(words(choice.label))
        result.append(
            _Option(i, choice.payload, w, " ".join(w), _label_polarity(w), _label_number(w))
        )
    return result


def _label_polarity(label: tuple[str, ...]) -> str | None:
    if label in _POLARITY:
        return _POLARITY[label]
    for size in range(min(4, len(label)), 0, -1):
        pol = _LABEL_POLARITY_LEAD.get(label[:size])
        if pol is not None:
            return pol
    return None


def _label_number(label: tuple[str, ...]) -> int | None:
    return ascii_int(label[0]) if label else None


def _polarity(seq: Sequence[str]) -> str | None:
    """The polarity of a whole typed phrase ("nee hoor" → no), after fillers."""
    return _POLARITY.get(tuple(seq))


def _number(seq: Sequence[str], count: int) -> int | None:
    """A typed position: 1..count, None when `seq` is no number at all, or minus the number
    typed when it is past the choices (-7 for "7" of three)."""
    seq = list(seq)
    while len(seq) > 1 and seq[0] in _NUMBER_NOUNS:
        seq = seq[1:]
    if len(seq) == 2 and seq[1] in _NUMBER_NOUNS - {"de", "het", "the", "no"}:
        seq = seq[:1]  # "2e optie", "second option"
    if len(seq) == 2 and seq[1] in {"e", "de", "ste", "st", "nd", "rd", "th"}:
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


def _windows(label: tuple[str, ...], size: int) -> set[tuple[str, ...]]:
    return {label[i : i + size] for i in range(len(label) - size + 1)}


def _fragment_hits(seq: Sequence[str], options: Sequence[_Option]) -> list[_Option]:
    """Options whose label holds `seq` as consecutive whole words, or whose label words start
    with each typed word (≥ 2 letters: "ma" → "maandag"); stopwords alone never count."""
    if not seq or all(w in _STOPWORDS for w in seq):
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


def _fuzzy(seq: Sequence[str], options: Sequence[_Option]) -> tuple[list[_Option], bool]:
    """(best options, ambiguous?) by typo-tolerant match; ([], False) when nothing is close."""
    typed = " ".join(seq)
    if len(typed.replace(" ", "")) < FUZZY_MIN_LEN:
        return [], False
    scored: list[tuple[float, _Option]] = []
    n = len(seq)
    for o in options:
        best = fuzz.ratio(typed, o.text)
        for size in {n, n + 1, max(1, n - 1)}:
            for i in range(len(o.words) - size + 1):
                window = o.words[i : i + size]
                if all(w in _STOPWORDS for w in window):
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


def _read_one(seq: Sequence[str], options: Sequence[_Option]) -> Answer:
    """One answer (no separators in it) read against the options."""
    start, end = strip_phrases(list(seq), _LEADING, _TRAILING)
    core = list(seq[start:end])
    if not core:
        return NotUnderstood("empty")
    text = " ".join(core)
    exact = [o for o in options if o.text == text]
    position = ascii_int(text, low=1, high=len(options))
    if len(exact) == 1 and position is not None and options[position - 1] is not exact[0]:
        return Ambiguous((options[position - 1].payload, exact[0].payload))  # "3" of 3/5/7
    if len(exact) == 1:
        return Matched((exact[0].payload,))
    if len(exact) > 1:
        return Ambiguous(tuple(o.payload for o in exact))
    full = " ".join(seq)
    exact_full = [o for o in options if o.text == full]
    if len(exact_full) == 1:
        return Matched((exact_full[0].payload,))

    number = _number(core, len(options))
    if number is not None and number > 0:
        by_position = options[number - 1]
        by_label = [o for o in options if o.number == number and len(o.words) == 1]
        if by_label and by_label[0] is not by_position:
            return Ambiguous((by_position.payload, by_label[0].payload))
        return Matched((by_position.payload,))
    if number is not None:
        as_label = [o for o in options if o.number == -number and len(o.words) == 1]
        if len(as_label) == 1:
            return Matched((as_label[0].payload,))
        return NotUnderstood("out_of_range")

    pol = _polarity(core) or (_polarity(full.split()) if full != text else None)
    if pol is None and " ".join(seq) in _CONSENT_ALONE:
        pol = _YES
    if pol is not None:
        fits = [o for o in options if o.polarity == pol]
        if len(fits) == 1:
            return Matched((fits[0].payload,))
        if len(fits) > 1:
            return Ambiguous(tuple(o.payload for o in fits))
        whole_word = [o for o in options if tuple(core) in _windows(o.words, len(core))]
        if len(whole_word) == 1:
            return Matched((whole_word[0].payload,))  # "goed" for "Goed idee"
        return NotUnderstood("no_yes_no_choice")

    negated = any(w in _NEGATIONS for w in core)
    hits = _fragment_hits(core, options)
    if not hits:
        hits, _ = _fuzzy(core, options)
    if not hits:
        return NotUnderstood("no_match")
    if negated:
        hits = [o for o in hits if any(w in _NEGATIONS for w in o.words)]
        if not hits:
            return NotUnderstood("negation")
    if len(hits) == 1:
        return Matched((hits[0].payload,))
    return Ambiguous(tuple(o.payload for o in hits))


def _split(seq: list[str], seps: list[bool]) -> list[list[str]] | None:
    """Split a reply into its answers at separators and "en"/"and"; None when "of"/"or"
    joins two (then the caller reads it as ambiguous)."""
    parts: list[list[str]] = [[]]
    for word, sep in zip(seq, seps, strict=True):
        if sep and parts[-1]:
            parts.append([])
        if word in _JOINERS and parts[-1]:
            parts.append([])
            continue
        parts[-1].append(word)
    parts = [p for p in parts if p]
    # "1 3 5": numbers separated by spaces only.
    if len(parts) == 1 and len(parts[0]) > 1 and all(ascii_int(w) is not None for w in parts[0]):
        parts = [[w] for w in parts[0]]
    return parts


def _read_many(seq: list[str], seps: list[bool], options: Sequence[_Option]) -> Answer | None:
    """Several answers in one line, or None when the line is not a list of answers."""
    ors = [i for i, w in enumerate(seq) if w in _OR_WORDS]
    if ors:
        cut = ors[0]
        left = _read_one(seq[:cut], options) if cut else None
        right = _read_one(seq[cut + 1 :], options) if cut + 1 < len(seq) else None
        picked: list[str] = []
        for side in (left, right):
            if isinstance(side, Matched):
                picked.extend(side.payloads)
            elif isinstance(side, Ambiguous):
                picked.extend(side.candidates)
        if len(set(picked)) >= 2:
            return Ambiguous(tuple(dict.fromkeys(picked)))
        return None
    parts = _split(seq, seps)
    if parts is not None and len(parts) == 1 and len(parts[0]) > 1:
        # "ma wo vr": words that are each an answer, separated by spaces only.
        parts = [[w] for w in parts[0]]
    if parts is None or len(parts) < 2:
        return None
    picked = []
    for part in parts:
        result = _read_one(part, options)
        if not isinstance(result, Matched):
            return None
        picked.extend(result.payloads)
    return Matched(tuple(dict.fromkeys(picked)))


def _conflicts(remark: list[str], chosen: Sequence[str], options: Sequence[_Option]) -> list[str]:
    """Payloads of other choices that the start of a remark names ("ja, nee" → No)."""
    if not remark:
        return []
    for size in range(min(4, len(remark)), 0, -1):
        pol = _polarity(remark[:size])
        if pol is not None:
            return [o.payload for o in options if o.polarity == pol and o.payload not in chosen]
    said = f" {' '.join(remark)} "
    return [o.payload for o in options if f" {o.text} " in said and o.payload not in chosen]


def _plain(seq: Sequence[str], options: Sequence[_Option]) -> tuple[str, ...] | None:
    """The answer `seq` is by label, number or yes/no word alone (no fragment, no typo)."""
    start, end = strip_phrases(list(seq), _LEADING, _TRAILING)
    core = list(seq[start:end])
    text = " ".join(core)
    exact = [o.payload for o in options if o.text == text]
    if len(exact) == 1:
        return (exact[0],)
    number = _number(core, len(options))
    if number is not None and number > 0:
        return (options[number - 1].payload,)
    pol = _polarity(core)
    fits = [o.payload for o in options if pol is not None and o.polarity == pol]
    return (fits[0],) if len(fits) == 1 else None


_TRAILING_WORDS = frozenset(w for p in _TRAILING for w in p if len(p) == 1) - {"maar", "but"}


def _plain_cut(
    seq: Sequence[str], cut: int, payloads: tuple[str, ...], options: Sequence[_Option]
) -> int:
    """The shortest cut before `cut` that plainly reads as `payloads`, past any trailing
    filler ("ja hoor maar niet te laat" → "ja hoor" | "maar niet te laat"); else `cut`."""
    for shorter in range(1, cut):
        if _plain(seq[:shorter], options) == payloads:
            while shorter < cut and seq[shorter] in _TRAILING_WORDS:
                shorter += 1
            return shorter
    return cut


def understand_answer(
    text: str, choices: Sequence[ChoiceLike], *, multiple: bool = False
) -> Answer:
    """Read a typed reply against `choices` (labels and payloads, in the order shown).

    With `multiple`, a reply naming several choices is `Matched` with all of them (in the
    order typed, without repeats); without it, such a reply is `Ambiguous` between them so
    that the bot can ask which one was meant.
    """
    if not text or not text.strip() or not choices:
        return NotUnderstood("empty")
    if foreign_digits(text):
        return NotUnderstood("foreign_digits")
    options = _options(choices)
    toks = tokens(text)
    if not toks:
        stripped = text.strip()
        if stripped in {"👍", "👍🏻", "👍🏼", "👍🏽", "👍🏾", "👍🏿", "✅"}:
            return understand_answer("ja", choices, multiple=multiple)
        if stripped in {"👎", "👎🏻", "👎🏼", "👎🏽", "👎🏾", "👎🏿", "❌"}:
            return understand_answer("nee", choices, multiple=multiple)
        return NotUnderstood("empty")
    seq = [t.word for t in toks]
    seps = [t.sep_before for t in toks]

    if tuple(seq) in _ALL:
        if multiple or len(options) == 1:
            return Matched(tuple(o.payload for o in options))
        return NotUnderstood("one_only")
    whole = _read_one(seq, options)
    if isinstance(whole, Matched | Ambiguous):
        return whole
    many = _read_many(seq, seps, options)
    if many is not None:
        if isinstance(many, Matched) and len(many.payloads) > 1 and not multiple:
            return Ambiguous(many.payloads)
        return many

    # A leading part that is an answer, the rest a remark as typed: first at a mark ("nee,
    # de broek is te warm"), else the longest such part, shortened to a plain reading of the
    # same answer ("extra vrije dag dan kan ik..." is not a typo of "extra vrije dag").
    cuts = [i for i in range(1, len(seq)) if seps[i]]
    cuts += [i for i in range(len(seq) - 1, 0, -1) if i not in cuts]
    for cut in cuts:
        head = _read_one(seq[:cut], options)
        if isinstance(head, NotUnderstood):
            head = _read_many(seq[:cut], seps[:cut], options) or head
        if isinstance(head, NotUnderstood):
            continue
        if seq[cut] in _JOINERS | _OR_WORDS:
            return whole  # "1 en 7": a list with a part that is no answer
        if isinstance(head, Ambiguous):
            return head
        if len(head.payloads) > 1 and not multiple:
            return Ambiguous(head.payloads)
        if not seps[cut]:
            cut = _plain_cut(seq, cut, head.payloads, options)
        rest = seq[cut:]
        others = _conflicts(rest, head.payloads, options)
        if not seps[cut] and len(rest) <= 2:
            # "kerstpakket bon": a word or two, unmarked, that could name another choice.
            others += [
                o.payload
                for o in options
                if o.payload not in head.payloads
                and any(
                    len(w) >= 3 and w not in _STOPWORDS and fuzz.partial_ratio(w, o.text) >= 90
                    for w in rest
                )
            ]
        if others:
            return Ambiguous(tuple(dict.fromkeys([*head.payloads, *others])))
        return Matched(head.payloads, text[toks[cut].start :].strip())
    return whole
