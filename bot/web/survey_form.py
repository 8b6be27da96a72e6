"""The dashboard's survey editor: read the form (settings and 1..12 question rows), and check
it with the survey use case's own rules (bot/usecases/survey_rules.py), as the chat and a file.

The form works without JavaScript: the number of question rows is a hidden field, "add a
question" and "remove question N" are submit buttons that come back to the form, and blank
rows (no text) are left out. Errors are (catalogue key, parameters) per field; a question's
errors are under "q<row>", so the page puts each next to its own row. Every field is checked,
not only the first wrong one: the use case stops at the first broken rule, so the draft is
checked again with that part replaced by a valid stand-in until no rule is broken.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.surveys import fileformat
from bot.usecases.surveys import (
    KINDS,
    LIMITS,
    MAX_QUESTIONS,
    QuestionDraft,
    SurveyDraft,
    SurveyRefused,
    check_draft,
)
from storage.people import Audience

DEFAULT_ROWS = 3
Error = tuple[str, dict[str, Any]]


@dataclass
class QuestionRow:
    """One question as typed; `options_text` has one option per line."""

    kind: str = "single"
    text: str = ""
    options_text: str = ""
    low: str = ""
    high: str = ""
    why: bool = False

    @property
    def blank(self) -> bool:
        return not self.text.strip() and not self.options_text.strip()

    def draft(self) -> QuestionDraft:
        options = [o.strip() for o in self.options_text.splitlines() if o.strip()]
        return QuestionDraft(
            kind=self.kind,
            text=self.text,
            options=tuple(options),
            low=self.low or None,
            high=self.high or None,
            why=self.why,
        )


@dataclass
class SurveyForm:
    """What was typed, kept to fill the form again (errors, added or removed rows)."""

    title: str = ""
    introduction: str = ""
    audience: str = ""
    anonymous: bool = True
    language: str = "nl"
    opens: str = ""
    closes: str = ""
    remind_hours: str = ""
    turnout_target: str = ""
    questions: list[QuestionRow] = field(
        default_factory=lambda: [QuestionRow() for _ in range(DEFAULT_ROWS)]
    )

    @property
    def limits(self) -> dict[str, int]:
        return LIMITS

    @property
    def kinds(self) -> tuple[str, ...]:
        return KINDS

    @property
    def can_add(self) -> bool:
        return len(self.questions) < MAX_QUESTIONS

    def filled(self) -> list[tuple[int, QuestionRow]]:
        """The rows that hold a question, with their row number (from 1)."""
        return [(n, q) for n, q in enumerate(self.questions, start=1) if not q.blank]


def _text(raw: Mapping[str, Any], name: str, limit: int = 5_000) -> str:
    value = raw.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def read_form(raw: Mapping[str, Any]) -> SurveyForm:
    rows = min(max(_int(_text(raw, "rows", 4)) or DEFAULT_ROWS, 1), MAX_QUESTIONS)
    form = SurveyForm(
        title=_text(raw, "title", 400),
        introduction=_text(raw, "introduction", 4_000),
        audience=_text(raw, "audience", 300),
        anonymous=raw.get("anonymous") == "1",
        language=_text(raw, "language", 4) or "nl",
        opens=_text(raw, "opens", 40),
        closes=_text(raw, "closes", 40),
        remind_hours=_text(raw, "remind_hours", 10),
        turnout_target=_text(raw, "turnout_target", 10),
        questions=[],
    )
    for n in range(1, rows + 1):
        kind = _text(raw, f"q{n}_kind", 16)
        form.questions.append(
            QuestionRow(
                kind=kind if kind in KINDS else "single",
                text=_text(raw, f"q{n}_text", 1_000),
                options_text=_text(raw, f"q{n}_options", 4_000),
                low=_text(raw, f"q{n}_low", 200),
                high=_text(raw, f"q{n}_high", 200),
                why=raw.get(f"q{n}_why") == "1",
            )
        )
    return form


def change_rows(form: SurveyForm, action: str) -> bool:
    """Apply "add" or "remove:N" (a submit button); False when `action` is neither."""
    if action == "add":
        if form.can_add:
            form.questions.append(QuestionRow())
        return True
    if action.startswith("remove:"):
        n = _int(action.removeprefix("remove:"))
        if n is not None and 1 <= n <= len(form.questions) and len(form.questions) > 1:
            form.questions.pop(n - 1)
        return True
    return False


def from_template(name: str, language: str, now: datetime, tz: ZoneInfo) -> SurveyForm:
    """The form filled in from one of the survey templates (bot/surveys/templates)."""
    draft = fileformat.to_draft(
        fileformat.load(fileformat.template_text(name, language)), now=now, tz=tz
    )
    audience = Audience.from_dict(draft.audience.to_dict())
    spec = (
        f"department={audience.department}"
        if audience.department
        else f"location={audience.location}"
        if audience.location
        else ""
    )
    return SurveyForm(
        title=draft.title,
        introduction=draft.introduction,
        audience=spec,
        anonymous=draft.anonymous,
        language=draft.language,
        closes=_local(draft.closes_at, tz),
        remind_hours=str(draft.remind_hours or ""),
        turnout_target=str(draft.turnout_target or ""),
        questions=[
            QuestionRow(
                kind=q.kind,
                text=q.text,
                options_text="\n".join(q.options),
                low=q.low or "",
                high=q.high or "",
                why=q.why,
            )
            for q in draft.questions
        ],
    )


def template_choices(language: str) -> list[tuple[str, str]]:
    """(name, title) of each template in `language`."""
    out = []
    for name in fileformat.template_names(language):
        data = fileformat.load(fileformat.template_text(name, language))
        out.append((name, str(data.get("title") or name)))
    return out


def _local(when: datetime | None, tz: ZoneInfo) -> str:
    return when.astimezone(tz).strftime("%Y-%m-%dT%H:%M") if when else ""


def _int(value: str) -> int | None:
    return int(value) if value.isascii() and value.isdecimal() and len(value) < 9 else None


def _time(value: str, tz: ZoneInfo) -> datetime | None:
    when = datetime.fromisoformat(value)
    return when if when.tzinfo else when.replace(tzinfo=tz)


def to_draft(
    form: SurveyForm, *, now: datetime, tz: ZoneInfo
) -> tuple[SurveyDraft | None, dict[str, Error]]:
    """The draft to create, or None and every error found (field → key, parameters)."""
    errors: dict[str, Error] = {}
    values: dict[str, Any] = {}
    for name in ("opens", "closes"):
        raw = getattr(form, name)
        try:
            values[name] = _time(raw, tz) if raw else None
        except ValueError:
            errors[name] = ("web.survey.error_time", {})
            values[name] = None
    for name in ("remind_hours", "turnout_target"):
        raw = getattr(form, name)
        values[name] = _int(raw) if raw else None
        if raw and values[name] is None:
            errors[name] = ("web.survey.error_number", {})
    try:
        audience = Audience.parse(form.audience)
    except ValueError:
        errors["audience"] = ("surveyrule.audience_empty", {})
        audience = Audience()
    rows = form.filled()
    draft = SurveyDraft(
        title=form.title,
        introduction=form.introduction,
        questions=[q.draft() for _, q in rows],
        anonymous=form.anonymous,
        audience=audience,
        opens_at=values["opens"],
        closes_at=values["closes"],
        remind_hours=values["remind_hours"],
        turnout_target=values["turnout_target"],
        language=form.language,
    )
    errors.update(_every_refusal(draft, [n for n, _ in rows], now))
    return (None, errors) if errors else (draft, {})


_STAND_INS: dict[str, dict[str, Any]] = {
    "title": {"title": "-"},
    "introduction": {"introduction": ""},
    "remind_hours": {"remind_hours": None},
    "turnout_target": {"turnout_target": None},
    "language": {"language": "nl"},
}
_STAND_IN_QUESTION = QuestionDraft("open", "-")


def _every_refusal(draft: SurveyDraft, rows: list[int], now: datetime) -> dict[str, Error]:
    """Check `draft` with the use case's rules, replacing each broken part by a valid stand-in
    and checking again, so that every broken rule is found (a handful of rounds at most)."""
    errors: dict[str, Error] = {}
    for _ in range(len(_STAND_INS) + MAX_QUESTIONS + 4):
        try:
            check_draft(draft, now)
            return errors
        except SurveyRefused as refused:
            name, draft = _stand_in(draft, refused, rows, now)
            params = dict(refused.params)
            if refused.position:
                params["position"] = rows[refused.position - 1]
            errors.setdefault(name, (refused.key, params))
    return errors


def _stand_in(
    draft: SurveyDraft, refused: SurveyRefused, rows: list[int], now: datetime
) -> tuple[str, SurveyDraft]:
    if refused.position:
        questions = list(draft.questions)
        questions[refused.position - 1] = _STAND_IN_QUESTION
        return f"q{rows[refused.position - 1]}", replace(draft, questions=questions)
    if refused.field == "questions":
        return "questions", replace(draft, questions=[_STAND_IN_QUESTION])
    if refused.field == "closes":
        return "closes", replace(draft, opens_at=None, closes_at=now + timedelta(days=1))
    return refused.field, replace(draft, **_STAND_INS.get(refused.field, {}))
