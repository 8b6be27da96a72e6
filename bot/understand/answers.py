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
The choices are prepared, and fragments matched, in choices.py; the words are in words.toml.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from bot.text import ascii_int
from bot.understand.choices import (
    ALL,
    CONSENT_ALONE,
    EMOJI_NO,
    EMOJI_YES,
    JOINERS,
    LEADING,
    NEGATIONS,
    OR_WORDS,
    STOPWORDS,
    TRAILING,
    YES,
    ChoiceLike,
    Option,
    fragment_hits,
    fuzzy,
    options,
    polarity_of,
    position,
    windows,
)
from bot.understand.normalize import Token, foreign_digits, strip_phrases, tokens
from bot.understand.synonyms import with_synonyms

__all__ = ["Ambiguous", "Answer", "ChoiceLike", "Matched", "NotUnderstood", "understand_answer"]


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
# Trailing filler words that may stand between a plain answer and its remark.
_TRAILING_WORDS = frozenset(w for p in TRAILING for w in p if len(p) == 1) - {"maar", "but"}


# ---------------------------------------------------------------------------------------------
# One answer: the readings 1-5 of the module docstring, in that order.


def _read_one(seq: Sequence[str], options: Sequence[Option]) -> Answer:
    """One answer (no separators in it) read against the options."""
    start, end = strip_phrases(list(seq), LEADING, TRAILING)
    core = list(seq[start:end])
    if not core:
        return NotUnderstood("empty")
    return (
        _by_label(core, seq, options)
        or _by_position(core, options)
        or _bypolarity_of(core, seq, options)
        or _by_words(core, options)
    )


def _by_label(core: list[str], seq: Sequence[str], options: Sequence[Option]) -> Answer | None:
    """The label itself, typed without or with the filler words ("de tweede" as a label)."""
    text = " ".join(core)
    exact = [o for o in options if o.text == text]
    at = ascii_int(text, low=1, high=len(options))
    if len(exact) == 1 and at is not None and options[at - 1] is not exact[0]:
        return Ambiguous((options[at - 1].payload, exact[0].payload))  # "3" of 3/5/7
    if len(exact) == 1:
        return Matched((exact[0].payload,))
    if len(exact) > 1:
        return Ambiguous(tuple(o.payload for o in exact))
    full = " ".join(seq)
    exact_full = [o for o in options if o.text == full]
    if len(exact_full) == 1:
        return Matched((exact_full[0].payload,))
    return None


def _by_position(core: list[str], options: Sequence[Option]) -> Answer | None:
    """A number or ordinal; ambiguous when a label is that number and sits elsewhere."""
    number = position(core, len(options))
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
    return None


def _bypolarity_of(core: list[str], seq: Sequence[str], options: Sequence[Option]) -> Answer | None:
    """Yes / no / don't know / maybe onto the choices that read that way."""
    text, full = " ".join(core), " ".join(seq)
    pol = polarity_of(core) or (polarity_of(full.split()) if full != text else None)
    if pol is None and full in CONSENT_ALONE:
        pol = YES
    if pol is None:
        return None
    fits = [o for o in options if o.polarity == pol]
    if len(fits) == 1:
        return Matched((fits[0].payload,))
    if len(fits) > 1:
        return Ambiguous(tuple(o.payload for o in fits))
    whole_word = [o for o in options if tuple(core) in windows(o.words, len(core))]
    if len(whole_word) == 1:
        return Matched((whole_word[0].payload,))  # "goed" for "Goed idee"
    return NotUnderstood("no_yes_no_choice")


def _by_words(core: list[str], options: Sequence[Option]) -> Answer:
    """Whole words or the start of a label, else a typo of one; never a negated label."""
    negated = any(w in NEGATIONS for w in core)
    hits = fragment_hits(core, options)
    if not hits:
        hits, _ = fuzzy(core, options)
    if not hits:
        return NotUnderstood("no_match")
    if negated:
        hits = [o for o in hits if any(w in NEGATIONS for w in o.words)]
        if not hits:
            return NotUnderstood("negation")
    if len(hits) == 1:
        return Matched((hits[0].payload,))
    return Ambiguous(tuple(o.payload for o in hits))


# ---------------------------------------------------------------------------------------------
# Several answers in one line.


def _split(seq: list[str], seps: list[bool]) -> list[list[str]] | None:
    """Split a reply into its answers at separators and "en"/"and"; None when "of"/"or"
    joins two (then the caller reads it as ambiguous)."""
    parts: list[list[str]] = [[]]
    for word, sep in zip(seq, seps, strict=True):
        if sep and parts[-1]:
            parts.append([])
        if word in JOINERS and parts[-1]:
            parts.append([])
            continue
        parts[-1].append(word)
    parts = [p for p in parts if p]
    # "1 3 5": numbers separated by spaces only.
    if len(parts) == 1 and len(parts[0]) > 1 and all(ascii_int(w) is not None for w in parts[0]):
        parts = [[w] for w in parts[0]]
    return parts


def _read_many(seq: list[str], seps: list[bool], options: Sequence[Option]) -> Answer | None:
    """Several answers in one line, or None when the line is not a list of answers."""
    ors = [i for i, w in enumerate(seq) if w in OR_WORDS]
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


# ---------------------------------------------------------------------------------------------
# An answer followed by a remark.


def _conflicts(remark: list[str], chosen: Sequence[str], options: Sequence[Option]) -> list[str]:
    """Payloads of other choices that the start of a remark names ("ja, nee" → No)."""
    if not remark:
        return []
    for size in range(min(4, len(remark)), 0, -1):
        pol = polarity_of(remark[:size])
        if pol is not None:
            return [o.payload for o in options if o.polarity == pol and o.payload not in chosen]
    said = f" {' '.join(remark)} "
    return [o.payload for o in options if f" {o.text} " in said and o.payload not in chosen]


def _plain(seq: Sequence[str], options: Sequence[Option]) -> tuple[str, ...] | None:
    """The answer `seq` is by label, number or yes/no word alone (no fragment, no typo)."""
    start, end = strip_phrases(list(seq), LEADING, TRAILING)
    core = list(seq[start:end])
    text = " ".join(core)
    exact = [o.payload for o in options if o.text == text]
    if len(exact) == 1:
        return (exact[0],)
    number = position(core, len(options))
    if number is not None and number > 0:
        return (options[number - 1].payload,)
    pol = polarity_of(core)
    fits = [o.payload for o in options if pol is not None and o.polarity == pol]
    return (fits[0],) if len(fits) == 1 else None


def _plain_cut(
    seq: Sequence[str], cut: int, payloads: tuple[str, ...], options: Sequence[Option]
) -> int:
    """The shortest cut before `cut` that plainly reads as `payloads`, past any trailing
    filler ("ja hoor maar niet te laat" → "ja hoor" | "maar niet te laat"); else `cut`."""
    for shorter in range(1, cut):
        if _plain(seq[:shorter], options) == payloads:
            while shorter < cut and seq[shorter] in _TRAILING_WORDS:
                shorter += 1
            return shorter
    return cut


def _others_named(
    rest: list[str], marked: bool, chosen: tuple[str, ...], options: Sequence[Option]
) -> list[str]:
    """Payloads of other choices the remark may name: its start ("ja, nee"), or, for a word or
    two not set off by a mark, a word that fits another label ("kerstpakket bon")."""
    others = _conflicts(rest, chosen, options)
    if not marked and len(rest) <= 2:
        others += [
            o.payload
            for o in options
            if o.payload not in chosen
            and any(
                len(w) >= 3 and w not in STOPWORDS and fuzz.partial_ratio(w, o.text) >= 90
                for w in rest
            )
        ]
    return others


def _answer_and_remark(
    text: str, toks: list[Token], options: Sequence[Option], multiple: bool, whole: Answer
) -> Answer:
    """A leading part that is an answer, the rest a remark as typed: first at a mark ("nee,
    de broek is te warm"), else the longest such part, shortened to a plain reading of the
    same answer ("extra vrije dag dan kan ik..." is not a typo of "extra vrije dag").
    `whole` (the reading of the whole reply) is the result when no part is an answer."""
    seq = [t.word for t in toks]
    seps = [t.sep_before for t in toks]
    cuts = [i for i in range(1, len(seq)) if seps[i]]
    cuts += [i for i in range(len(seq) - 1, 0, -1) if i not in cuts]
    for cut in cuts:
        head = _read_one(seq[:cut], options)
        if isinstance(head, NotUnderstood):
            head = _read_many(seq[:cut], seps[:cut], options) or head
        if isinstance(head, NotUnderstood):
            continue
        if seq[cut] in JOINERS | OR_WORDS:
            return whole  # "1 en 7": a list with a part that is no answer
        if isinstance(head, Ambiguous):
            return head
        if len(head.payloads) > 1 and not multiple:
            return Ambiguous(head.payloads)
        if not seps[cut]:
            cut = _plain_cut(seq, cut, head.payloads, options)
        others = _others_named(seq[cut:], seps[cut], head.payloads, options)
        if others:
            return Ambiguous(tuple(dict.fromkeys([*head.payloads, *others])))
        return Matched(head.payloads, text[toks[cut].start :].strip())
    return whole


# ---------------------------------------------------------------------------------------------


def understand_answer(
    text: str, choices: Sequence[ChoiceLike], *, multiple: bool = False
) -> Answer:
    """Read a typed reply against `choices` (labels and payloads, in the order shown).

    With `multiple`, a reply naming several choices is `Matched` with all of them (in the
    order typed, without repeats); without it, such a reply is `Ambiguous` between them so
    that the bot can ask which one was meant. A reply that fits nothing is read once more
    with synonyms ("zonder naam" for "anoniem"); that reading counts only whole.
    """
    result = _understand(text, choices, multiple)
    if not isinstance(result, NotUnderstood) or not text or foreign_digits(text):
        return result
    alt = with_synonyms([t.word for t in tokens(text)])
    again = _understand(" ".join(alt), choices, multiple) if alt else result
    whole = isinstance(again, Matched) and not again.remark
    return again if whole or isinstance(again, Ambiguous) else result


def _understand(text: str, choices: Sequence[ChoiceLike], multiple: bool) -> Answer:
    if not text or not text.strip() or not choices:
        return NotUnderstood("empty")
    if foreign_digits(text):
        return NotUnderstood("foreign_digits")
    toks = tokens(text)
    if not toks:
        return _emoji_alone(text, choices, multiple)
    opts = options(choices)
    seq = [t.word for t in toks]
    if tuple(seq) in ALL:
        if multiple or len(opts) == 1:
            return Matched(tuple(o.payload for o in opts))
        return NotUnderstood("one_only")
    whole = _read_one(seq, opts)
    if isinstance(whole, Matched | Ambiguous):
        return whole
    many = _read_many(seq, [t.sep_before for t in toks], opts)
    if many is not None:
        if isinstance(many, Matched) and len(many.payloads) > 1 and not multiple:
            return Ambiguous(many.payloads)
        return many
    return _answer_and_remark(text, toks, opts, multiple, whole)


def _emoji_alone(text: str, choices: Sequence[ChoiceLike], multiple: bool) -> Answer:
    """A reply of no words: 👍 is yes, 👎 is no, anything else is empty."""
    stripped = text.strip()
    if stripped in EMOJI_YES:
        return understand_answer("ja", choices, multiple=multiple)
    if stripped in EMOJI_NO:
        return understand_answer("nee", choices, multiple=multiple)
    return NotUnderstood("empty")
