"""The "new poll" form: parse and check it with the same limits as the chat and the CLI.

Errors are catalogue keys per field, so the page can put each message next to its field
(and point to it with aria-describedby).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.choices import fold
from dialogs.poll_create import MAX_OPTION, MAX_OPTIONS, MAX_QUESTION, MIN_OPTIONS
from storage.people import Audience


@dataclass
class PollForm:
    """What was typed, kept to fill the form again when something is wrong."""

    question: str = ""
    options_text: str = ""
    multiple: bool = False
    anonymous: bool = False
    hide_results: bool = False
    closes: str = ""
    audience: str = ""
    options: list[str] = field(default_factory=list)
    closes_at: datetime | None = None

    @property
    def limits(self) -> dict[str, int]:
        return {
            "max_question": MAX_QUESTION,
            "min_options": MIN_OPTIONS,
            "max_options": MAX_OPTIONS,
            "max_option": MAX_OPTION,
        }


def _text(raw: Mapping[str, Any], name: str, limit: int = 10_000) -> str:
    value = raw.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def parse_poll_form(
    raw: Mapping[str, Any], *, now: datetime, timezone: ZoneInfo
) -> tuple[PollForm, dict[str, str]]:
    form = PollForm(
        question=_text(raw, "question", MAX_QUESTION * 2),
        options_text=_text(raw, "options"),
        multiple=raw.get("multiple") == "1",
        anonymous=raw.get("anonymous") == "1",
        hide_results=raw.get("hide_results") == "1",
        closes=_text(raw, "closes", 40),
        audience=_text(raw, "audience", 300),
    )
    errors: dict[str, str] = {}
    if not form.question or len(form.question) > MAX_QUESTION:
        errors["question"] = "web.poll.error_question"
    form.options = [line.strip() for line in form.options_text.splitlines() if line.strip()]
    if not MIN_OPTIONS <= len(form.options) <= MAX_OPTIONS:
        errors["options"] = "web.poll.error_option_count"
    elif any(len(o) > MAX_OPTION for o in form.options):
        errors["options"] = "web.poll.error_option_length"
    elif len({fold(o) for o in form.options}) != len(form.options):
        errors["options"] = "web.poll.error_option_duplicate"
    if form.closes:
        try:
            closes = datetime.fromisoformat(form.closes)
        except ValueError:
            errors["closes"] = "web.poll.error_closes"
        else:
            closes = closes if closes.tzinfo else closes.replace(tzinfo=timezone)
            if closes <= now:
                errors["closes"] = "web.poll.error_closes"
            else:
                form.closes_at = closes
    try:
        Audience.parse(form.audience)
    except ValueError:
        errors["audience"] = "web.poll.error_audience"
    return form, errors
