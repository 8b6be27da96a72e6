"""Typed dates and times in Dutch and English, read by rule: a time, ambiguous, past, or not.

Why not dateparser (which the dialogs used before)? It read every one of the issue's
examples wrongly and silently: "19u30" became 06:17, "7-12 08:00" 12 July (month first),
"morgen 17u" 03:55, "om 6" 00:00, a bare "6" 4 June 2027, and on a Friday morning "vrijdag
17:00" next week. Its answers come from a large generic grammar with language guessing, so
there is no way to tell a confident reading from a guess, and wrapping it with rules would
mean pre-parsing every form anyway (and then dateparser only adds the misreads). The forms
colleagues actually type are few and regular, so this module parses them itself, with a
grammar small enough to read, and refuses everything else. ISO-8601 is read by
`datetime.fromisoformat`; the calendar and DST by `zoneinfo`; the echo in words by Babel.
Every time step of the guided dialogs reads through here (bot/dialog_times.py).

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
The reading of the words is times_read.py; this module turns a reading into moments. The
words themselves (numbers, months, weekdays, fillers) are in words.toml.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date

from bot.i18n import t
from bot.understand.normalize import fold, foreign_digits
from bot.understand.times_read import (
    FILLERS,
    NIGHT,
    NOW_WORDS,
    PART_HOUR,
    Reading,
    hours_of,
    read,
)

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
    if folded in NOW_WORDS:
        return At(now)
    r, leftover = read(folded)
    refused = _refusal(r, leftover)
    if refused is not None:
        return refused
    if r.delta is not None:
        moment = (now.astimezone(UTC) + r.delta).astimezone(tz)
        return At(moment.replace(second=0, microsecond=0))
    return _build(r, now, tz)


def _refusal(r: Reading, leftover: list[str]) -> NoTime | None:
    """Why a reading is no time at all: words no rule read, nothing read, or parts that
    contradict each other; None when it can be turned into a moment."""
    left = [w for w in leftover if w not in FILLERS]
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
    return None


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


@dataclass(frozen=True, slots=True)
class _Clock:
    """The wall-clock time of a reading: one hour, or two for a half-day question."""

    hours: list[int]
    minute: int
    assumed: bool  # no time was typed: the default hour of the day or part of day
    reason: str  # why two hours are asked back: half_day or written_early


def _build(r: Reading, now: datetime, tz: ZoneInfo) -> When:
    """A reading as a moment: its time of day, then its day (an explicit date, a weekday, a
    day offset, days later, or else the next occurrence of the time)."""
    today = now.date()
    if r.midnight:
        return _midnight(r, today, tz)
    clock = _clock(r)
    if isinstance(clock, NoTime):
        return clock
    recent = False
    if r.explicit is not None:
        got = _explicit_day(r, today)
        if isinstance(got, NoTime):
            return got
        days, recent = [got[0]], got[1]
    elif r.weekday is not None:
        found = _weekday_days(r, today, clock, now, tz)
        if not isinstance(found, list):
            return found
        days = found
    elif r.day_offset is not None:
        days = [today + timedelta(days=r.day_offset)]
    elif r.days_later is not None:
        days = [today + timedelta(days=r.days_later)]
        if r.hour is None:  # "over 2 dagen": at this time of day
            clock = _Clock([now.hour], now.minute, False, clock.reason)
    else:
        return _no_day(clock, today, now, tz)
    return _on_days(days, clock, now, tz, recent)


def _midnight(r: Reading, today: date, tz: ZoneInfo) -> When:
    """Midnight: the coming one; with a day it is unclear which is meant."""
    if any(x is not None for x in (r.day_offset, r.weekday, r.explicit, r.days_later)):
        return NoTime("conflict")  # "morgen middernacht": the start or the end of it?
    moments = _local(today + timedelta(days=1), 0, 0, tz)
    return _one(moments, False) if moments else NoTime("dst_gap")


def _clock(r: Reading) -> _Clock | NoTime:
    """The hours a reading may mean: the typed time, or the default of its (part of the) day."""
    if r.hour is None:
        if r.part == NIGHT:
            return NoTime("unknown_words")
        return _Clock([PART_HOUR.get(r.part or "", DEFAULT_HOUR)], 0, True, "half_day")
    hours = hours_of(r)
    if hours is None:
        return NoTime("conflict")
    if r.minute >= 60 or any(h > 23 for h in hours):
        return NoTime("conflict")
    reason = "written_early" if r.written_early and len(hours) == 2 else "half_day"
    return _Clock(hours, r.minute, False, reason)


def _explicit_day(r: Reading, today: date) -> tuple[date, bool] | NoTime:
    """The typed date, with whether it is a yearless date of the last RECENT_DAYS days."""
    assert r.explicit is not None
    d, mo, y = r.explicit
    try:
        candidate = date(y or today.year, mo, d)
    except ValueError:
        return NoTime("no_such_date")
    recent = False
    if y is None and candidate < today:
        if (today - candidate).days > RECENT_DAYS:
            candidate = date(today.year + 1, mo, d)
        else:
            recent = True
    if r.weekday is not None and candidate.weekday() != r.weekday:
        return NoTime("weekday_mismatch")
    if r.day_offset is not None and candidate != today + timedelta(days=r.day_offset):
        return NoTime("conflict")
    return candidate, recent


def _weekday_days(
    r: Reading, today: date, clock: _Clock, now: datetime, tz: ZoneInfo
) -> list[date] | When:
    """The day a weekday means: today if still ahead, else the coming one; "volgende
    vrijdag" said in that Friday's week is asked back; a weekday time gone today is `Past`."""
    assert r.weekday is not None
    hours, minute = clock.hours, clock.minute
    ahead = (r.weekday - today.weekday()) % 7
    if r.day_offset is not None:
        if ahead != r.day_offset:
            return NoTime("weekday_mismatch")
        return [today + timedelta(days=ahead)]
    if r.weekday_next:
        if ahead == 0:
            return [today + timedelta(days=7)]
        if today.weekday() + ahead <= 6:
            return _options(
                [today + timedelta(days=ahead), today + timedelta(days=ahead + 7)],
                hours,
                minute,
                now,
                tz,
                "next_weekday",
            )
        return [today + timedelta(days=ahead)]
    day = today + timedelta(days=ahead)
    if ahead == 0:
        moments = _local(day, hours[-1], minute, tz) if len(hours) == 1 else None
        if moments is not None and moments[-1] <= now:
            later = _local(day + timedelta(days=7), hours[-1], minute, tz)
            return Past(moments[0], later[0] if later else None)
    return [day]


def _no_day(clock: _Clock, today: date, now: datetime, tz: ZoneInfo) -> When:
    """A time with no day: today, or (for each half-day reading) its next occurrence."""
    hours, minute = clock.hours, clock.minute
    if len(hours) == 1:
        moments = _local(today, hours[0], minute, tz)
        if moments is None:
            return NoTime("dst_gap")
        if moments[-1] <= now:
            tomorrow = _local(today + timedelta(days=1), hours[0], minute, tz)
            return Past(moments[0], tomorrow[0] if tomorrow else None)
        return _one(moments, clock.assumed)
    found: list[datetime] = []
    for h in hours:
        for day in (today, today + timedelta(days=1)):
            moments = _local(day, h, minute, tz)
            if moments and moments[0] > now:
                found.append(moments[0])
                break
    return AmbiguousTime(tuple(sorted(found)), clock.reason)


def _on_days(days: list[date], clock: _Clock, now: datetime, tz: ZoneInfo, recent: bool) -> When:
    """The time on the day read; a yearless date of the last weeks is `Past`."""
    if len(clock.hours) > 1:
        return _options(days, clock.hours, clock.minute, now, tz, clock.reason)
    moments = _local(days[0], clock.hours[0], clock.minute, tz)
    if moments is None:
        return NoTime("dst_gap")
    if moments[-1] <= now or recent:
        return Past(moments[0])
    return _one(moments, clock.assumed)


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
# "at"-time pattern, which Babel does not expose, so it is the catalogue's "time.at".


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
    return f"{day} {t(locale, 'time.at')} {local:%H:%M}"
