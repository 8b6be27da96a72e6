"""The survey file: TOML (default) or JSON, read into a SurveyDraft for the use case.

    title = "Werkdruk-pulse"                  # required, 1..200 characters
    introduction = "Waarom we dit vragen"     # optional
    anonymous = true                          # default true
    language = "nl"                           # nl or en (the language of the questions)
    audience = { department = "Productie" }   # or location = "…"; left out: everyone
    opens = "2026-12-10T09:00"                # optional (now); local time unless an offset
    closes = "2026-12-17T17:00"               # or: closes_after_days = 7
    remind_hours = 24                         # optional: a reminder this long before closing
    turnout_target = 60                       # optional, percent

    [[questions]]                             # 1..12 of them, in order
    kind = "single"                           # single, multiple, scale, nps, open
    text = "Steun je het voorstel?"
    options = ["Ja", "Nee", "Weet ik niet"]   # single and multiple: 2..10
    why = true                                # optional: "waarom?" after the answer
    # scale: low = "helemaal oneens", high = "helemaal eens"

The shape is checked here (a missing title, a question that is not a table, an unknown key,
a date that is no date: SurveyRefused "surveyrule.file_invalid" with the reason); the rules
(lengths, counts, times) are the use case's, so a file and the chat refuse the same things.
Templates are such files in bot/surveys/templates/<language>/<name>.toml, with
`closes_after_days` instead of a date.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.usecases.survey_rules import QuestionDraft, SurveyDraft, SurveyRefused
from storage.people import Audience

TEMPLATES = Path(__file__).parent / "templates"
SURVEY_KEYS = {
    "title", "introduction", "anonymous", "language", "audience", "opens", "closes",
    "closes_after_days", "remind_hours", "turnout_target", "questions",
}  # fmt: skip
QUESTION_KEYS = {"kind", "text", "options", "low", "high", "why"}


def _invalid(reason: str) -> SurveyRefused:
    return SurveyRefused("surveyrule.file_invalid", "file", reason=reason)


def load(text: str, fmt: str = "toml") -> dict[str, Any]:
    """The file's data; syntax errors are refused with the parser's reason."""
    try:
        data = json.loads(text) if fmt == "json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise _invalid(str(exc)) from exc
    if not isinstance(data, dict):
        raise _invalid("the file is not a table of settings")
    return data


def _time(value: Any, key: str, tz: ZoneInfo) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise _invalid(f"{key}: not a date and time (2026-12-17T17:00)") from exc
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time(0, 0))
    if not isinstance(value, datetime):
        raise _invalid(f"{key}: not a date and time (2026-12-17T17:00)")
    return value if value.tzinfo else value.replace(tzinfo=tz)


def _typed(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    """The value of `key` when it has the type (true/false is not a number here), or None."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) != (kind is bool) or not isinstance(value, kind):
        raise _invalid(f"{key}: {what}")
    return value


def _question(n: int, data: Any) -> QuestionDraft:
    if not isinstance(data, dict):
        raise _invalid(f"question {n} is not a table")
    unknown = set(data) - QUESTION_KEYS
    if unknown:
        raise _invalid(f"question {n}: unknown key {sorted(unknown)[0]!r}")
    options = data.get("options") or []
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise _invalid(f"question {n}: options must be a list of texts")
    for key in ("kind", "text", "low", "high"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise _invalid(f"question {n}: {key} must be a text")
    if not isinstance(data.get("why", False), bool):
        raise _invalid(f"question {n}: why must be true or false")
    return QuestionDraft(
        kind=str(data.get("kind") or ""),
        text=str(data.get("text") or ""),
        options=tuple(options),
        low=data.get("low"),
        high=data.get("high"),
        why=bool(data.get("why", False)),
    )


def to_draft(data: Mapping[str, Any], *, now: datetime, tz: ZoneInfo) -> SurveyDraft:
    """The draft a file describes (shape checked here, rules by the use case)."""
    unknown = set(data) - SURVEY_KEYS
    if unknown:
        raise _invalid(f"unknown key {sorted(unknown)[0]!r}")
    questions = data.get("questions")
    if not isinstance(questions, list):
        raise _invalid("questions: give a list of questions ([[questions]] tables)")
    audience = data.get("audience") or {}
    if not isinstance(audience, dict) or set(audience) - {"department", "location"}:
        raise _invalid('audience: { department = "…" } or { location = "…" }')
    opens_at = _time(data.get("opens"), "opens", tz)
    closes_at = _time(data.get("closes"), "closes", tz)
    days = _typed(data, "closes_after_days", (int, float), "a number of days")
    if closes_at is None and days is not None:
        closes_at = (opens_at or now) + timedelta(days=days)
    for key in ("title", "introduction", "language"):
        _typed(data, key, str, "must be a text")
    return SurveyDraft(
        title=str(data.get("title") or ""),
        introduction=str(data.get("introduction") or ""),
        questions=[_question(n, q) for n, q in enumerate(questions, start=1)],
        anonymous=_typed(data, "anonymous", bool, "true or false") is not False,
        language=str(data.get("language") or "nl"),
        audience=Audience.from_dict({k: str(v) for k, v in audience.items()}),
        opens_at=opens_at,
        closes_at=closes_at,
        remind_hours=_typed(data, "remind_hours", int, "a whole number of hours"),
        turnout_target=_typed(data, "turnout_target", int, "a whole percentage"),
    )


def template_names(language: str) -> list[str]:
    return sorted(p.stem for p in (TEMPLATES / language).glob("*.toml"))


def template_text(name: str, language: str) -> str:
    """A template file's text; refused with the names there are when it does not exist."""
    names = template_names(language)
    if name not in names:
        raise SurveyRefused(
            "surveyrule.template_unknown", "template", name=name, names=", ".join(names)
        )
    return (TEMPLATES / language / f"{name}.toml").read_text(encoding="utf-8")
