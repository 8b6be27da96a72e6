"""The "new poll" form: read what was typed, and check it with the use case's rules
(bot/usecases/polls.py), the same as in the chat and the CLI.

Errors are catalogue keys per field, so the page can put each message next to its field
(and point to it with aria-describedby); every field is checked, not only the first wrong one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.usecases import polls as poll_cases
from bot.usecases.polls import LIMITS, MAX_QUESTION, PollDraft, PollRefused
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
    repeat: str = ""
    options: list[str] = field(default_factory=list)
    closes_at: datetime | None = None
    # Optional English texts for English-speaking colleagues.
    question_en: str = ""
    options_en_text: str = ""
    options_en: list[str] = field(default_factory=list)

    @property
    def limits(self) -> dict[str, int]:
        return LIMITS

    def draft_texts(self) -> PollDraft:
        """Only the texts, to check the English ones against the Dutch."""
        return PollDraft(
            self.question, self.options, question_en=self.question_en, options_en=self.options_en
        )

    def draft(self) -> PollDraft:
        return PollDraft(
            question=self.question,
            options=self.options,
            multiple=self.multiple,
            anonymous=self.anonymous,
            hide_results=self.hide_results,
            audience=Audience.parse(self.audience),
            closes_at=self.closes_at,
            repeat=self.repeat or None,
            question_en=self.question_en or None,
            options_en=self.options_en or None,
        )


def _text(raw: Mapping[str, Any], name: str, limit: int = 10_000) -> str:
    value = raw.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _check(errors: dict[str, str], rule: Callable[[], object]) -> None:
    try:
        rule()
    except PollRefused as refused:
        errors.setdefault(refused.field, refused.key)


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
        repeat=_text(raw, "repeat", 20),
        question_en=_text(raw, "question_en", MAX_QUESTION * 2),
        options_en_text=_text(raw, "options_en"),
    )
    errors: dict[str, str] = {}
    form.options = [line.strip() for line in form.options_text.splitlines() if line.strip()]
    form.options_en = [line.strip() for line in form.options_en_text.splitlines() if line.strip()]
    _check(errors, lambda: poll_cases.check_question(form.question))
    _check(errors, lambda: poll_cases.check_options(form.options))
    _check(errors, lambda: poll_cases.check_repeat(form.repeat or None))
    _check(errors, lambda: poll_cases.check_english(form.draft_texts(), len(form.options)))
    if form.closes:
        try:
            closes = datetime.fromisoformat(form.closes)
        except ValueError:
            errors["closes"] = "web.poll.error_closes"
        else:
            form.closes_at = closes if closes.tzinfo else closes.replace(tzinfo=timezone)
            _check(errors, lambda: poll_cases.check_closes(form.closes_at, now=now, opens_at=None))
    try:
        Audience.parse(form.audience)
    except ValueError:
        errors["audience"] = "web.poll.error_audience"
    return form, errors
