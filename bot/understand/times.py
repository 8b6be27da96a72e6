"""Typed dates and times in Dutch and English, read by rule: a time, ambiguous, past, or not.

Why not dateparser (which dialogs/when.py wraps today)? It reads every one of the issue's
examples wrongly and silently: "19u30" became 06:17, "7-12 08:00" 12 July (month first),
"morgen 17u" 03:55, "om 6" 00:00, a bare "6" 4 June 2027, and on a Friday morning "vrijdag
17:00" next week. Its answers come from a large generic grammar with language guessing, so
there is no way to tell a confident reading from a guess, and wrapping it with rules would
mean pre-parsing every form anyway (and then dateparser only adds the misreads). The forms
colleagues actually type are few and regular, so this module parses them itself, with a
grammar small enough to read, and refuses everything else. ISO-8601 is read by
`datetime.fromisoformat`; the calendar and DST by `zoneinfo`; the echo in words by Babel.
dateparser stays a dependency only until dialogs/when.py is switched over to this module.

The rules for what is ambiguous (asked back, never guessed):
- A spoken-style hour of 1-12 with no part of the day ("om 6", "6 uur", "half 8", "kwart over
  7", "7u", "at 7") is ambiguous between morning and evening: both readings are offered, each
  at its next occurrence ("06:00 of 18:00?"). "vanavond", "'s avonds", "pm", "morgenochtend",
  "tonight" and the like decide it ("vanavond half 8" is 19:30). 12 is noon, 0 and 13-23 are
  what they say ("17u", "om 19").
- A clock time written with minutes is read on the 24-hour clock as written ("9:00", "19.30",
  "19u30", "08:00"), except 1:00-6:59 without a leading zero and without a part of the day
  ("5:30"): nobody schedules at 05:30 on purpose without saying so, so that is asked back.
- A bare number ("6") is no time at all.
- "middernacht" / "midnight" is the coming one; with a day ("morgen middernacht") it is
  unclear whether the start or the end of that day is meant, so it is not understood.
- "volgende vrijdag" / "next friday" said in the same week as that Friday is ambiguous (this
  Friday or the one after); on the Friday itself it is the one a week on.
- A time that falls twice on the day the clocks go back (02:30 on the last Sunday of
  October) is ambiguous between the two; one that does not exist (02:30 on the last Sunday
  of March) is not understood.
And what is decided:
- A weekday is today if that time is still ahead today, else the coming one; a weekday or a
  time that is today but already gone is `Past` (with the next occurrence as a suggestion),
  never silently moved a week or a day.
- Dates are day first ("7-12" is 7 December). A date without a year is this year, or next
  year when it was more than 60 days ago; within the last 60 days it is `Past`.
- A day without a time gets 09:00 ("morgen"), a part of the day its usual hour ("vanavond"
  19:00, "vanmiddag" 14:00), marked `assumed_time` so the echo can say so.
- "over een uur" counts real time (across a DST change too); "over 2 dagen" counts calendar
  days and keeps the wall-clock time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date

from bot.understand.normalize import fold, foreign_digits

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
DEFAULT_HOUR = 9
# How long ago a yearless date may be and still be taken as a mistake ("past") rather than
# next year's.
RECENT_DAYS = 60


@dataclass(frozen=True, slots=True)
class At:
    """A definite moment (aware, in the time zone asked for). `assumed_time`: no clock time
    was typed, the hour is the default for the day or part of day."""

    when: datetime
    assumed_time: bool = False


@dataclass(frozen=True, slots=True)
class AmbiguousTime:
    """Two readings; ask which ("06:00 of 18:00?"). `reason`: half_day, next_weekday,
    dst_repeat, written_early."""

    options: tuple[datetime, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Past:
    """The moment has already gone; `suggestion` is its next occurrence when there is an
    obvious one (tomorrow for a time, next week for a weekday), else None."""

    when: datetime
    suggestion: datetime | None = None


@dataclass(frozen=True, slots=True)
class NoTime:
    """Not understood. `reason`: empty, foreign_digits, bare_number, unknown_words, conflict,
    no_such_date, dst_gap, weekday_mismatch."""

    reason: str


When = At | AmbiguousTime | Past | NoTime

# ---------------------------------------------------------------------------------------------

_NUM_WORDS = {
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
    "dertien": 13,
    "veertien": 14,
    "twintig": 20,
    "dertig": 30,
    "veertig": 40,
    "one": 1,
    "a": 1,
    "an": 1,
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
    "twenty": 20,
    "thirty": 30,
}
_NUM = r"(?:\d{1,3}|" + "|".join(sorted(_NUM_WORDS, key=len, reverse=True)) + ")"
_HOUR = r"(?:\d{1,2}|" + "|".join(sorted(_NUM_WORDS, key=len, reverse=True)) + ")"

_MONTHS = {
    "januari": 1,
    "january": 1,
    "jan": 1,
    "februari": 2,
    "february": 2,
    "feb": 2,
    "maart": 3,
    "march": 3,
    "mrt": 3,
    "mar": 3,
    "maa": 3,
    "april": 4,
    "apr": 4,
    "mei": 5,
    "may": 5,
    "juni": 6,
    "june": 6,
    "jun": 6,
    "juli": 7,
    "july": 7,
    "jul": 7,
    "augustus": 8,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sept": 9,
    "sep": 9,
    "oktober": 10,
    "october": 10,
    "okt": 10,
    "oct": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
    "dec": 12,
}
_MONTH = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_WEEKDAYS = {
    "maandag": 0,
    "dinsdag": 1,
    "woensdag": 2,
    "donderdag": 3,
    "vrijdag": 4,
    "zaterdag": 5,
    "zondag": 6,
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
    "ma": 0,
    "di": 1,
    "wo": 2,
    "do": 3,
    "vr": 4,
    "za": 5,
    "zo": 6,
    "mon": 0,
    "tue": 1,
    "tues": 1,
    "wed": 2,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "fri": 4,
    "sat": 5,
    "sun": 6,
}
_WEEKDAY = "(" + "|".join(sorted(_WEEKDAYS, key=len, reverse=True)) + r")\.?"

# Parts of the day and the hour each gets when no time is typed.
_MORNING, _AFTERNOON, _EVENING, _NIGHT = "morning", "afternoon", "evening", "night"
_PART_HOUR = {_MORNING: 9, _AFTERNOON: 14, _EVENING: 19}
# (pattern, day offset or None, part or None); compounds before their parts ("'s morgens"
# is a part of the day, "morgen" is tomorrow).
_DAY_PARTS: tuple[tuple[str, int | None, str | None], ...] = (
    (r"morgen\s*(?:ochtend|vroeg)|tomorrow morning", 1, _MORNING),
    (r"morgen\s*middag|tomorrow afternoon", 1, _AFTERNOON),
    (r"morgen\s*avond|tomorrow (?:evening|night)", 1, _EVENING),
    (r"vanavond|tonight|this evening|vandaag\s+'?s\s*avonds", 0, _EVENING),
    (r"vanmiddag|this afternoon", 0, _AFTERNOON),
    (r"vanochtend|vanmorgen|this morning", 0, _MORNING),
    (r"'?s\s*avonds|(?:in\s+de\s+)?avond|(?:in\s+the\s+)?evening|p\.?\s?m\.?", None, _EVENING),
    (r"'?s\s*middags|(?:in\s+the\s+)?afternoon|(?:in\s+de\s+)?middag", None, _AFTERNOON),
    (
        r"'?s\s*(?:ochtends|morgens)|(?:in\s+de\s+)?ochtend|(?:in\s+the\s+)?morning|a\.?\s?m\.?",
        None,
        _MORNING,
    ),
    (r"'?s\s*nachts|at night", None, _NIGHT),
    (r"overmorgen|(?:the\s+)?day after tomorrow", 2, None),
    (r"vandaag|today", 0, None),
    (r"morgen|tomorrow", 1, None),
)
# Words that carry no meaning here ("om 17:00", "on friday at 9").
_FILLERS = frozenset(
    {
        "om",
        "at",
        "op",
        "on",
        "de",
        "het",
        "the",
        "rond",
        "around",
        "tegen",
        "about",
        "graag",
        "please",
        "maar",
        "dan",
        "is",
        "van",
        "in",
        "ongeveer",
        "uur",
        "u",
        "pls",
        "doe",
        "ik",
        "zeg",
        "wordt",
        "of",
        "for",
        "by",
        "voor",
        "tot",
        "until",
        "till",
        "uiterlijk",
        "sturen",
        "versturen",
        "send",
        "it",
        "liefst",
        "dus",
        "so",
    }
)


@dataclass
class _Reading:
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


def _read(text: _Text, r: _Reading) -> None:
    """Apply every rule to `text`, filling `r`."""
    hour: int | None
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

    # Dates before times: "7-12" and "7 dec" hold numbers a time rule would take.
    m = text.take(r"(\d{1,2})[-/](\d{1,2})(?:[-/](\d{4}|\d{2}))?|(\d{1,2})\.(\d{1,2})\.(\d{4})")
    if m:
        g = m.groups()
        day, month, year = (g[0], g[1], g[2]) if g[0] else (g[3], g[4], g[5])
        y = int(year) + (2000 if year and len(year) == 2 else 0) if year else None
        r.explicit = (int(day), int(month), y)
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

    m = text.take(r"(volgende|next|komende|aanstaande|deze|this|coming)?\s*" + _WEEKDAY)
    if m:
        r.weekday = _WEEKDAYS[m.group(2)]
        r.weekday_next = m.group(1) in {"volgende", "next"}

    m = text.take(r"middernacht|midnight")
    if m:
        r.set_hour(0, 0, exact=True)
        r.midnight = True
    m = text.take(r"noon|middaguur|12 uur 's middags|twaalf uur 's middags")
    if m:
        r.set_hour(12, 0, exact=True)

    # Written clock times: 19:30, 19.30, 19u30, 19h30, 7:30pm.
    m = text.take(r"(\d{1,2})\s?[:.uh]\s?(\d{2})(?:\s*(am|pm|a\.m\.|p\.m\.))?(?:\s?(?:u|uur|h))?")
    if m:
        hour, minute = int(m.group(1)), int(m.group(2))
        exact = hour == 0 or hour >= 13 or m.group(1).startswith("0") or hour >= 7
        r.set_hour(hour, minute, exact=exact, written=True)
        if m.group(3):
            r.ampm = m.group(3).replace(".", "")
            r.exact = False
            r.written_early = False
    # 9am, 9 pm
    m = text.take(r"(\d{1,2})\s*(am|pm|a\.m\.|p\.m\.)")
    if m:
        r.set_hour(int(m.group(1)), 0, exact=False)
        r.ampm = m.group(2).replace(".", "")
    # English: half past 7, quarter past 7, quarter to 8, 10 past 7, 20 to 8.
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
    # Dutch: (5|kwart|tien) (voor|over) half 8, half 8, kwart over 7, 10 voor 8.
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
    m = text.take(r"(kwart|" + _NUM + r")\s+(voor|over)\s+(" + _HOUR + r")(?:\s+uur)?")
    if m:
        hour = _num(m.group(3))
        n = 15 if m.group(1) == "kwart" else _num(m.group(1))
        if hour is None or n is None or n >= 30 or hour > 24:
            r.conflict = True
        else:
            total = hour * 60 + (n if m.group(2) == "over" else -n)
            r.set_hour((total // 60) % 24, total % 60, exact=hour > 12 or hour == 0)
    # Spoken hours: 17u, 6 uur, 7 o'clock, om 6, at 7.
    m = text.take(r"(" + _HOUR + r")\s*(?:u|h|uur|o'?clock)")
    if m is None:
        m = text.take(r"(?:om|at|rond|around|tegen|about)\s+(" + _HOUR + r")")
    if m:
        hour = _num(m.group(1))
        if hour is None or hour > 24:
            r.conflict = True
        else:
            r.set_hour(hour % 24, 0, exact=hour == 0 or hour >= 13)

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


def _apply_part(r: _Reading) -> list[int] | None:
    """The possible 24-hour clock hours for what was read; None on a contradiction."""
    assert r.hour is not None
    h = r.hour
    if r.ampm:
        if not 1 <= h <= 12 or (r.part and (r.part == _MORNING) != (r.ampm == "am")):
            return None
        return [h % 12 + (12 if r.ampm == "pm" else 0)]
    if r.part is None:
        if r.exact or h == 12:
            return [h]
        return [h, h + 12] if 1 <= h <= 11 else [h]
    if h >= 13 or h == 0:
        ok = {
            _MORNING: False,
            _AFTERNOON: 12 <= h <= 18,
            _EVENING: h >= 17 or h == 0,
            _NIGHT: h >= 21 or h <= 5,
        }
        return [h] if ok[r.part] else None
    if r.part == _MORNING:
        return [h] if 5 <= h <= 12 else None
    if r.part == _AFTERNOON:
        return [h if h == 12 else h + 12] if h == 12 or h <= 6 else None
    if r.part == _EVENING:
        return [h + 12] if 5 <= h <= 11 else None
    # night
    return [h + 12] if h >= 9 else [0] if h == 12 else [h]


def _local(day: date, hour: int, minute: int, tz: ZoneInfo) -> list[datetime] | None:
    """The moments a wall-clock time has on `day`: one, two (clocks go back) or none (gap)."""
    first = datetime.combine(day, time(hour, minute), tzinfo=tz)
    second = first.replace(fold=1)
    back = first.astimezone(UTC).astimezone(tz)
    if (back.hour, back.minute) != (hour, minute):
        return None
    if first.utcoffset() != second.utcoffset():
        return [first, second.astimezone(UTC).astimezone(tz)]
    return [first]


def parse_time(text: str, *, now: datetime, tz: ZoneInfo = AMSTERDAM) -> When:
    """Read `text` as a moment after `now` in `tz` (see the module docstring for the rules)."""
    raw = text.strip()
    if not raw:
        return NoTime("empty")
    if foreign_digits(raw):
        return NoTime("foreign_digits")
    now = now.astimezone(tz)
    iso = _iso(raw, tz)
    if iso is not None:
        return _check(iso, now, None)
    folded = re.sub(r"[!?,;]+", " ", fold(raw)).strip().rstrip(".")
    if re.fullmatch(r"(?:nu|now|meteen|direct|right now|nu meteen|immediately)", folded):
        return At(now)
    t = _Text(folded)
    r = _Reading()
    _read(t, r)
    left = [w for w in t.leftover() if w not in _FILLERS]
    if any(w.isdigit() for w in left):
        return NoTime("bare_number")
    if left:
        return NoTime("unknown_words")
    if r.conflict:
        return NoTime("conflict")
    nothing = (
        r.day_offset is None
        and r.weekday is None
        and r.explicit is None
        and r.part is None
        and r.hour is None
        and r.delta is None
        and r.days_later is None
    )
    if nothing:
        return NoTime("unknown_words")
    if r.delta is not None and any(
        x is not None for x in (r.day_offset, r.weekday, r.explicit, r.hour, r.part)
    ):
        return NoTime("conflict")
    if r.days_later is not None and any(
        x is not None for x in (r.day_offset, r.weekday, r.explicit)
    ):
        return NoTime("conflict")  # "maandag over een week": not a reading to guess
    if r.delta is not None:
        moment = (now.astimezone(UTC) + r.delta).astimezone(tz)
        return At(moment.replace(second=0, microsecond=0))
    return _build(r, now, tz)


def _iso(raw: str, tz: ZoneInfo) -> datetime | date | None:
    if not re.fullmatch(
        r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?", raw
    ):
        return None
    try:
        if len(raw) == 10:
            return date.fromisoformat(raw)
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return parsed.astimezone(tz) if parsed.tzinfo else parsed.replace(tzinfo=tz)


def _check(moment: datetime | date, now: datetime, suggestion: datetime | None) -> When:
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, time(DEFAULT_HOUR), tzinfo=now.tzinfo)
        return Past(moment) if moment <= now else At(moment, assumed_time=True)
    return Past(moment, suggestion) if moment <= now else At(moment)


def _build(r: _Reading, now: datetime, tz: ZoneInfo) -> When:
    today = now.date()
    if r.midnight:
        if any(x is not None for x in (r.day_offset, r.weekday, r.explicit, r.days_later)):
            return NoTime("conflict")  # "morgen middernacht": the start or the end of it?
        moments = _local(today + timedelta(days=1), 0, 0, tz)
        return _one(moments, False) if moments else NoTime("dst_gap")
    assumed = r.hour is None
    if r.hour is None:
        if r.part == _NIGHT:
            return NoTime("unknown_words")
        hours = [_PART_HOUR.get(r.part or "", DEFAULT_HOUR)]
        minute = 0
    else:
        got = _apply_part(r)
        if got is None:
            return NoTime("conflict")
        hours, minute = got, r.minute
        if minute >= 60 or any(h > 23 for h in hours):
            return NoTime("conflict")
    reason = "written_early" if r.written_early and len(hours) == 2 else "half_day"

    # Which days: explicit date, weekday, offset, days later, or "the next occurrence".
    days: list[date] | None = None
    yearless_recent = False
    if r.explicit is not None:
        d, mo, y = r.explicit
        try:
            candidate = date(y or today.year, mo, d)
        except ValueError:
            return NoTime("no_such_date")
        if y is None and candidate < today:
            if (today - candidate).days > RECENT_DAYS:
                candidate = date(today.year + 1, mo, d)
            else:
                yearless_recent = True
        if r.weekday is not None and candidate.weekday() != r.weekday:
            return NoTime("weekday_mismatch")
        if r.day_offset is not None and candidate != today + timedelta(days=r.day_offset):
            return NoTime("conflict")
        days = [candidate]
    elif r.weekday is not None:
        ahead = (r.weekday - today.weekday()) % 7
        if r.day_offset is not None:
            if ahead != r.day_offset:
                return NoTime("weekday_mismatch")
            days = [today + timedelta(days=ahead)]
        elif r.weekday_next:
            if ahead == 0:
                days = [today + timedelta(days=7)]
            elif today.weekday() + ahead <= 6:
                return _options(
                    [today + timedelta(days=ahead), today + timedelta(days=ahead + 7)],
                    hours,
                    minute,
                    now,
                    tz,
                    "next_weekday",
                )
            else:
                days = [today + timedelta(days=ahead)]
        else:
            days = [today + timedelta(days=ahead)]
            if ahead == 0:
                moments = _local(days[0], hours[-1], minute, tz) if len(hours) == 1 else None
                if moments is not None and moments[-1] <= now:
                    later = _local(days[0] + timedelta(days=7), hours[-1], minute, tz)
                    return Past(moments[0], later[0] if later else None)
    elif r.day_offset is not None:
        days = [today + timedelta(days=r.day_offset)]
    elif r.days_later is not None:
        days = [today + timedelta(days=r.days_later)]
        if r.hour is None:
            hours, minute, assumed = [now.hour], now.minute, False

    if days is None:
        # A time with no day: today, or (for each half-day reading) its next occurrence.
        if len(hours) == 1:
            moments = _local(today, hours[0], minute, tz)
            if moments is None:
                return NoTime("dst_gap")
            if moments[-1] <= now:
                tomorrow = _local(today + timedelta(days=1), hours[0], minute, tz)
                return Past(moments[0], tomorrow[0] if tomorrow else None)
            return _one(moments, assumed)
        found: list[datetime] = []
        for h in hours:
            for day in (today, today + timedelta(days=1)):
                moments = _local(day, h, minute, tz)
                if moments and moments[0] > now:
                    found.append(moments[0])
                    break
        return AmbiguousTime(tuple(sorted(found)), reason)

    if len(hours) > 1:
        return _options(days, hours, minute, now, tz, reason)
    moments = _local(days[0], hours[0], minute, tz)
    if moments is None:
        return NoTime("dst_gap")
    if moments[-1] <= now or yearless_recent:
        return Past(moments[0])
    return _one(moments, assumed)


def _one(moments: list[datetime], assumed: bool) -> When:
    if len(moments) == 2:
        return AmbiguousTime(tuple(moments), "dst_repeat")
    return At(moments[0], assumed_time=assumed)


def _options(
    days: list[date], hours: list[int], minute: int, now: datetime, tz: ZoneInfo, reason: str
) -> When:
    found: list[datetime] = []
    for day in days:
        for h in hours:
            moments = _local(day, h, minute, tz)
            if moments:
                found.extend(m for m in moments[:1] if m > now)
    if not found:
        moments = _local(days[0], hours[0], minute, tz)
        return Past(moments[0]) if moments else NoTime("dst_gap")
    return AmbiguousTime(tuple(sorted(found)), reason)


# ---------------------------------------------------------------------------------------------
# Echo in words. Babel names the weekday and month; the word joining date and time is CLDR's
# "at"-time pattern, which Babel does not expose, so it is kept here for the two languages.
_AT = {"nl": "om", "en": "at"}


def say_when(
    moment: datetime, lang: str, *, tz: ZoneInfo = AMSTERDAM, now: datetime | None = None
) -> str:
    """`moment` in words for a confirmation: "vrijdag 4 december om 17:00" / "Friday 4
    December at 17:00"; the year is added when it is not the year of `now`."""
    local = moment.astimezone(tz)
    locale = "nl" if lang.startswith("nl") else "en"
    pattern = (
        "EEEE d MMMM" if now is None or now.astimezone(tz).year == local.year else "EEEE d MMMM y"
    )
    day = format_date(local.date(), pattern, locale=locale)
    return f"{day} {_AT[locale]} {local:%H:%M}"
