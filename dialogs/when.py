"""Typed dates and times ("morgen 17:00", "vanavond 19:30", "friday 12:00", ISO-8601)."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import dateparser

from bot.text import has_foreign_digits

# dateparser knows "vandaag" and "morgen" but not "vanavond"/"tonight"; both mean "today"
# once a time is given.
_ALIASES = (
    (re.compile(r"\bvanavond\b", re.I), "vandaag"),
    (re.compile(r"\bvanmiddag\b", re.I), "vandaag"),
    (re.compile(r"\btonight\b", re.I), "today"),
    (re.compile(r"\bthis evening\b", re.I), "today"),
)


def parse_when(text: str, *, now: datetime, timezone: ZoneInfo) -> datetime | None:
    """An aware datetime, interpreted in `timezone` and preferring the future; None if unclear."""
    cleaned = text.strip()
    if has_foreign_digits(cleaned):
        return None  # dateparser reads "12:00 ¹" as a date weeks away: refuse, never misread
    for pattern, replacement in _ALIASES:
        cleaned = pattern.sub(replacement, cleaned)
    if not cleaned:
        return None
    try:
        iso = datetime.fromisoformat(cleaned)
    except ValueError:
        iso = None
    if iso is not None:
        return iso if iso.tzinfo else iso.replace(tzinfo=timezone)
    parsed: datetime | None = dateparser.parse(
        cleaned,
        languages=["nl", "en"],
        settings={
            "TIMEZONE": str(timezone),
            "RETURN_AS_TIMEZONE_AWARE": True,
            "PREFER_DATES_FROM": "future",
            "RELATIVE_BASE": now.astimezone(timezone).replace(tzinfo=None),
        },
    )
    return parsed
