"""When the next copy of a recurring poll opens: weekly on a weekday, or monthly on a day of
the month, at a local clock time.

The arithmetic is done on the local calendar and only then turned into an instant, so "every
Monday 9:00" is 9:00 in Amsterdam in winter and in summer (08:00 and 07:00 UTC). A clock time
that does not exist on a spring-forward night is read as the same wall time before the change
(02:30 becomes 03:30 CEST); one that exists twice in autumn is the first of the two.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from babel.dates import get_day_names

from bot.i18n import t
from storage.recurring_models import PollSchedule

WEEKLY, MONTHLY = "weekly", "monthly"
REPEATS = (WEEKLY, MONTHLY)


def _instant(day: date, at: time, timezone: ZoneInfo) -> datetime:
    """The wall time `at` on `day`, made real: round-tripped through UTC so a time in the
    spring-forward gap comes out as the wall time it actually is."""
    local = datetime.combine(day, at, tzinfo=timezone)
    return local.astimezone(ZoneInfo("UTC")).astimezone(timezone)


def _on_day_of_month(year: int, month: int, day: int) -> date:
    """Day `day` of the month, or its last day when the month is shorter (31 → 30 April)."""
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def next_occurrence(schedule: PollSchedule, after: datetime, timezone: ZoneInfo) -> datetime:
    """The first time strictly after `after` at which the schedule opens a copy."""
    at = time.fromisoformat(schedule.at_time)
    local_after = after.astimezone(timezone)
    if schedule.repeat == WEEKLY:
        assert schedule.weekday is not None
        start = local_after.date()
        for offset in range(8):
            day = start + timedelta(days=offset)
            if day.weekday() == schedule.weekday:
                candidate = _instant(day, at, timezone)
                if candidate > after:
                    return candidate
        raise AssertionError("a week always holds the weekday")  # pragma: no cover
    assert schedule.day is not None
    year, month = local_after.year, local_after.month
    while True:
        candidate = _instant(_on_day_of_month(year, month, schedule.day), at, timezone)
        if candidate > after:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def anchor(schedule: PollSchedule, first: datetime, timezone: ZoneInfo) -> None:
    """Fill weekday, day and clock time from the first copy's opening time, and the time of
    the next copy."""
    local = first.astimezone(timezone)
    schedule.at_time = local.strftime("%H:%M")
    schedule.weekday = local.weekday() if schedule.repeat == WEEKLY else None
    schedule.day = local.day if schedule.repeat == MONTHLY else None
    schedule.next_at = next_occurrence(schedule, first, timezone)


def describe(schedule: PollSchedule, lang: str) -> str:
    """'Repeats every week on Monday at 09:00.', in the person's language."""
    if schedule.repeat == WEEKLY:
        assert schedule.weekday is not None
        locale = "nl_NL" if lang == "nl" else "en_GB"
        weekday = get_day_names("wide", locale=locale)[schedule.weekday]
        return t(lang, "pollrule.weekly", weekday=weekday, time=schedule.at_time)
    return t(lang, "pollrule.monthly", day=schedule.day, time=schedule.at_time)
