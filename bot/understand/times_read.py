"""The reading half of the time parser: which day, date, hour and part of the day a folded
text names, with no calendar yet (times.py turns a reading into moments).

The text is read by a fixed list of rules, each a named step below. A rule blanks out what it
has read, so that a later rule cannot read the same words again, and whatever is left must be
filler words ("om", "graag") or the text is not understood. The order of the steps matters:
dates before clock times ("7-12" and "7 dec" hold numbers a time rule would take), longer
forms before the parts they contain ("kwart over half 8" before "half 8" before "8 uur"), and
parts of the day last ("'s morgens" is a part of the day, "morgen" is tomorrow).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from bot.understand.vocabulary import numbers, word_set

# Word lists (folded forms) from words.toml, [numbers] and [times].
_NUM_WORDS = numbers("numbers", "times.numbers")
_MONTHS = numbers("times.months")
_WEEKDAYS = numbers("times.weekdays")
FILLERS = word_set("times.fillers")
NOW_WORDS = word_set("times.now")


def _alternatives(names: dict[str, int]) -> str:
    """A regex alternation of `names`, the longest tried first ("sept" before "sep")."""
    return "|".join(sorted(names, key=len, reverse=True))


_NUM = r"(?:\d{1,3}|" + _alternatives(_NUM_WORDS) + ")"
_HOUR = r"(?:\d{1,2}|" + _alternatives(_NUM_WORDS) + ")"
_MONTH = "(" + _alternatives(_MONTHS) + r")\.?"
_WEEKDAY = "(" + _alternatives(_WEEKDAYS) + r")\.?"

# Parts of the day and the hour each gets when no time is typed.
MORNING, AFTERNOON, EVENING, NIGHT = "morning", "afternoon", "evening", "night"
PART_HOUR = {MORNING: 9, AFTERNOON: 14, EVENING: 19}
# (pattern, day offset or None, part or None); compounds before their parts ("'s morgens"
# is a part of the day, "morgen" is tomorrow).
_DAY_PARTS: tuple[tuple[str, int | None, str | None], ...] = (
    (r"morgen\s*(?:ochtend|vroeg)|tomorrow morning", 1, MORNING),
    (r"morgen\s*middag|tomorrow afternoon", 1, AFTERNOON),
    (r"morgen\s*avond|tomorrow (?:evening|night)", 1, EVENING),
    (r"vanavond|tonight|this evening|vandaag\s+'?s\s*avonds", 0, EVENING),
    (r"vanmiddag|this afternoon", 0, AFTERNOON),
    (r"vanochtend|vanmorgen|this morning", 0, MORNING),
    (r"'?s\s*avonds|(?:in\s+de\s+)?avond|(?:in\s+the\s+)?evening|p\.?\s?m\.?", None, EVENING),
    (r"'?s\s*middags|(?:in\s+the\s+)?afternoon|(?:in\s+de\s+)?middag", None, AFTERNOON),
    (
        r"'?s\s*(?:ochtends|morgens)|(?:in\s+de\s+)?ochtend|(?:in\s+the\s+)?morning|a\.?\s?m\.?",
        None,
        MORNING,
    ),
    (r"'?s\s*nachts|at night", None, NIGHT),
    (r"overmorgen|(?:the\s+)?day after tomorrow", 2, None),
    (r"vandaag|today", 0, None),
    # A day gone: read, so that it is said to be past rather than not understood.
    (r"eergisteren|(?:the\s+)?day before yesterday", -2, None),
    (r"gisteren|yesterday", -1, None),
    (r"morgen|tomorrow", 1, None),
)


@dataclass
class Reading:
    """What has been read so far."""

    day_offset: int | None = None
    weekday: int | None = None
    weekday_next: bool = False
    explicit: tuple[int, int, int | None] | None = None  # day, month, year
    part: str | None = None
    hour: int | None = None
    minute: int = 0
    exact: bool = False  # hour read on the 24-hour clock (no morning/evening question)
    written_early: bool = False  # "5:30": written with minutes, 1-6 without a leading zero
    ampm: str | None = None
    delta: timedelta | None = None  # "over een uur": real time
    days_later: int | None = None  # "over 2 dagen": calendar days
    conflict: bool = False
    midnight: bool = False  # "middernacht": the coming one; with a day it is unclear which

    def set_hour(self, hour: int, minute: int, *, exact: bool, written: bool = False) -> None:
        if self.hour is not None:
            self.conflict = True
        self.hour, self.minute, self.exact = hour, minute, exact
        self.written_early = written and not exact


def _num(word: str) -> int | None:
    if word.isascii() and word.isdigit():
        return int(word)
    return _NUM_WORDS.get(word)


class _Text:
    """The folded text; each rule blanks out what it has read, the rest must be fillers."""

    def __init__(self, text: str) -> None:
        self.s = " " + text + " "

    def take(self, pattern: str) -> re.Match[str] | None:
        m = re.search(r"(?<![\w'])(?:" + pattern + r")(?![\w])", self.s)
        if m:
            self.s = self.s[: m.start()] + " " * (m.end() - m.start()) + self.s[m.end() :]
        return m

    def leftover(self) -> list[str]:
        return re.findall(r"[\w']+", self.s)


def _read_relative(text: _Text, r: Reading) -> None:
    """Relative: "over een uur", "in 2 days", "over een kwartier" (real time or calendar days)."""
    m = text.take(
        r"(?:over|in)\s+(" + _NUM + r"|een half|half an?|half|anderhalf|an? half)\s*"
        r"(minuten|minuutjes|minuut|minutes|minute|mins|min|kwartier|uurtjes|uurtje|uren|uur|"
        r"hours|hour|hrs|hr|dagen|dag|days|day|weken|week|weeks)"
    )
    if m:
        amount_word, unit = m.group(1), m.group(2)
        amount: float | None
        if amount_word in {"een half", "half", "half a", "half an", "a half", "an half"}:
            amount = 0.5
        elif amount_word == "anderhalf":
            amount = 1.5
        else:
            n = _num(amount_word)
            amount = float(n) if n is not None else None
        if amount is None:
            r.conflict = True
        elif unit.startswith(("min",)):
            r.delta = timedelta(minutes=amount)
        elif unit == "kwartier":
            r.delta = timedelta(minutes=15 * amount)
        elif unit.startswith(("uur", "uren", "hour", "hr")):
            r.delta = timedelta(hours=amount)
        elif amount != int(amount):
            r.conflict = True
        elif unit.startswith(("dag", "day")):
            r.days_later = int(amount)
        else:
            r.days_later = 7 * int(amount)


def _read_numeric_date(text: _Text, r: Reading) -> None:
    """Dates in digits, day first: "7-12", "7/12/2026", "7.12.2026"."""
    m = text.take(r"(\d{1,2})[-/](\d{1,2})(?:[-/](\d{4}|\d{2}))?|(\d{1,2})\.(\d{1,2})\.(\d{4})")
    if m:
        g = m.groups()
        day, month, year = (g[0], g[1], g[2]) if g[0] else (g[3], g[4], g[5])
        y = int(year) + (2000 if year and len(year) == 2 else 0) if year else None
        r.explicit = (int(day), int(month), y)


def _read_named_date(text: _Text, r: Reading) -> None:
    """Dates with a month name: "7 dec", "7e december 2026", "December 7th, 2026"."""
    m = text.take(r"(\d{1,2})(?:e|ste|de|st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH + r"(?:\s+(\d{4}))?")
    if m is None:
        m2 = text.take(_MONTH + r"\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?")
        if m2:
            if r.explicit:
                r.conflict = True
            r.explicit = (
                int(m2.group(2)),
                _MONTHS[m2.group(1)],
                int(m2.group(3)) if m2.group(3) else None,
            )
    else:
        if r.explicit:
            r.conflict = True
        r.explicit = (int(m.group(1)), _MONTHS[m.group(2)], int(m.group(3)) if m.group(3) else None)


def _read_weekday(text: _Text, r: Reading) -> None:
    """A weekday: "vrijdag", "volgende vrijdag", "next fri"."""
    m = text.take(r"(volgende|next|komende|aanstaande|deze|this|coming)?\s*" + _WEEKDAY)
    if m:
        r.weekday = _WEEKDAYS[m.group(2)]
        r.weekday_next = m.group(1) in {"volgende", "next"}


def _read_named_hour(text: _Text, r: Reading) -> None:
    """Hours by name: "middernacht", "noon"."""
    m = text.take(r"middernacht|midnight")
    if m:
        r.set_hour(0, 0, exact=True)
        r.midnight = True
    m = text.take(r"noon|middaguur|12 uur 's middags|twaalf uur 's middags")
    if m:
        r.set_hour(12, 0, exact=True)


def _read_clock(text: _Text, r: Reading) -> None:
    """Written clock times: 19:30, 19.30, 19u30, 19h30, 7:30pm; and 9am, 9 pm."""
    m = text.take(r"(\d{1,2})\s?[:.uh]\s?(\d{2})(?:\s*(am|pm|a\.m\.|p\.m\.))?(?:\s?(?:u|uur|h))?")
    if m:
        hour, minute = int(m.group(1)), int(m.group(2))
        exact = hour == 0 or hour >= 13 or m.group(1).startswith("0") or hour >= 7
        r.set_hour(hour, minute, exact=exact, written=True)
        if m.group(3):
            r.ampm = m.group(3).replace(".", "")
            r.exact = False
            r.written_early = False
    m = text.take(r"(\d{1,2})\s*(am|pm|a\.m\.|p\.m\.)")
    if m:
        r.set_hour(int(m.group(1)), 0, exact=False)
        r.ampm = m.group(2).replace(".", "")


def _read_english_past_to(text: _Text, r: Reading) -> None:
    """Half past 7, quarter past 7, quarter to 8, 10 past 7, 20 to 8."""
    hour: int | None
    m = text.take(
        r"(half|quarter|a quarter|" + _NUM + r")\s+(?:minutes\s+)?(past|after|to)\s+(" + _HOUR + ")"
    )
    if m:
        hour = _num(m.group(3))
        lead = m.group(1)
        minutes = 30 if lead == "half" else 15 if "quarter" in lead else _num(lead)
        if hour is None or minutes is None or minutes >= 60:
            r.conflict = True
        elif m.group(2) == "to":
            r.set_hour((hour - 1) % 24, 60 - minutes, exact=hour > 12 or hour == 0)
        else:
            r.set_hour(hour, minutes, exact=hour > 12 or hour == 0)


def _read_dutch_half(text: _Text, r: Reading) -> None:
    """Half 8 (7:30), kwart over half 8, 5 voor half 6."""
    hour: int | None
    m = text.take(r"(?:(kwart|" + _NUM + r")\s+(voor|over)\s+)?half\s+(" + _HOUR + ")")
    if m:
        hour = _num(m.group(3))
        offset = 0
        if m.group(1):
            n = 15 if m.group(1) == "kwart" else _num(m.group(1))
            offset = (n or 0) * (1 if m.group(2) == "over" else -1)
        if hour is None or hour == 0 or hour > 24:
            r.conflict = True
        else:
            total = (hour - 1) * 60 + 30 + offset
            r.set_hour((total // 60) % 24, total % 60, exact=hour > 12)


def _read_dutch_quarter(text: _Text, r: Reading) -> None:
    """Kwart over 7, 10 voor 8 (8 uur)."""
    hour: int | None
    m = text.take(r"(kwart|" + _NUM + r")\s+(voor|over)\s+(" + _HOUR + r")(?:\s+uur)?")
    if m:
        hour = _num(m.group(3))
        n = 15 if m.group(1) == "kwart" else _num(m.group(1))
        if hour is None or n is None or n >= 30 or hour > 24:
            r.conflict = True
        else:
            total = hour * 60 + (n if m.group(2) == "over" else -n)
            r.set_hour((total // 60) % 24, total % 60, exact=hour > 12 or hour == 0)


def _read_spoken_hour(text: _Text, r: Reading) -> None:
    """17u, 6 uur, 7 o'clock, om 6, at 7."""
    hour: int | None
    m = text.take(r"(" + _HOUR + r")\s*(?:u|h|uur|o'?clock)")
    if m is None:
        m = text.take(r"(?:om|at|rond|around|tegen|about)\s+(" + _HOUR + r")")
    if m:
        hour = _num(m.group(1))
        if hour is None or hour > 24:
            r.conflict = True
        else:
            r.set_hour(hour % 24, 0, exact=hour == 0 or hour >= 13)


def _read_day_parts(text: _Text, r: Reading) -> None:
    """Vandaag, morgen, vanavond, 's avonds, pm...: the day and the part of it."""
    for pattern, shift, part in _DAY_PARTS:
        m = text.take(pattern)
        if not m:
            continue
        if shift is not None:
            if r.day_offset is not None and r.day_offset != shift:
                r.conflict = True
            r.day_offset = shift
        if part is not None:
            if r.part is not None and r.part != part:
                r.conflict = True
            r.part = part


# The rules, in the order they must run (see the module docstring).
_STEPS: tuple[Callable[[_Text, Reading], None], ...] = (
    _read_relative,
    _read_numeric_date,
    _read_named_date,
    _read_weekday,
    _read_named_hour,
    _read_clock,
    _read_english_past_to,
    _read_dutch_half,
    _read_dutch_quarter,
    _read_spoken_hour,
    _read_day_parts,
)


def read(folded: str) -> tuple[Reading, list[str]]:
    """What `folded` (see normalize.fold) says, and the words no rule read."""
    text = _Text(folded)
    r = Reading()
    for step in _STEPS:
        step(text, r)
    return r, text.leftover()


def hours_of(r: Reading) -> list[int] | None:
    """The possible 24-hour clock hours for what was read; None on a contradiction."""
    assert r.hour is not None
    h = r.hour
    if r.ampm:
        if not 1 <= h <= 12 or (r.part and (r.part == MORNING) != (r.ampm == "am")):
            return None
        return [h % 12 + (12 if r.ampm == "pm" else 0)]
    if r.part is None:
        if r.exact or h == 12:
            return [h]
        return [h, h + 12] if 1 <= h <= 11 else [h]
    if h >= 13 or h == 0:
        ok = {
            MORNING: False,
            AFTERNOON: 12 <= h <= 18,
            EVENING: h >= 17 or h == 0,
            NIGHT: h >= 21 or h <= 5,
        }
        return [h] if ok[r.part] else None
    if r.part == MORNING:
        return [h] if 5 <= h <= 12 else None
    if r.part == AFTERNOON:
        return [h if h == 12 else h + 12] if h == 12 or h <= 6 else None
    if r.part == EVENING:
        return [h + 12] if 5 <= h <= 11 else None
    # night
    return [h + 12] if h >= 9 else [0] if h == 12 else [h]
