"""The rules of a survey (consultation): limits, the draft a caller fills in, and the checks
of a draft and of one answer. Part of the survey use case (bot/usecases/surveys.py imports
and re-exports all of it): every path that creates or answers a survey goes through these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.choices import fold
from bot.surveys.progress import Given
from bot.usecases import Refused
from storage.people import Audience
from storage.survey_models import SurveyQuestion

SINGLE, MULTIPLE, SCALE, NPS, OPEN_TEXT = "single", "multiple", "scale", "nps", "open"
KINDS = (SINGLE, MULTIPLE, SCALE, NPS, OPEN_TEXT)
CHOICE_KINDS = (SINGLE, MULTIPLE)
MAX_QUESTIONS, MAX_TITLE, MAX_INTRO, MAX_TEXT = 12, 200, 2000, 500
MIN_OPTIONS, MAX_OPTIONS, MAX_OPTION, MAX_END_LABEL = 2, 10, 200, 100
MAX_ANSWER, MAX_WHY, MAX_REMIND_HOURS = 2000, 1000, 24 * 30
SCALE_RANGE, NPS_RANGE = (1, 5), (0, 10)
LIMITS = {
    "max_questions": MAX_QUESTIONS,
    "max_title": MAX_TITLE,
    "max_intro": MAX_INTRO,
    "max_text": MAX_TEXT,
    "min_options": MIN_OPTIONS,
    "max_options": MAX_OPTIONS,
    "max_option": MAX_OPTION,
    "max_end_label": MAX_END_LABEL,
    "max_answer": MAX_ANSWER,
    "max_why": MAX_WHY,
    "max_remind_hours": MAX_REMIND_HOURS,
}


class SurveyRefused(Refused):
    """A survey rule is broken; `field` names the input, `position` the question (from 1)."""

    def __init__(self, key: str, field: str, position: int | None = None, **params: Any) -> None:
        super().__init__(key, **LIMITS, position=position or 0, **params)
        self.field = field
        self.position = position


@dataclass(frozen=True, slots=True)
class QuestionDraft:
    kind: str
    text: str
    options: Sequence[str] = ()
    low: str | None = None  # scale: the label of 1
    high: str | None = None  # scale: the label of 5
    why: bool = False  # a choice or scale question is followed by "waarom?"


@dataclass(frozen=True, slots=True)
class SurveyDraft:
    title: str
    questions: Sequence[QuestionDraft]
    closes_at: datetime | None
    introduction: str = ""
    anonymous: bool = True
    audience: Audience = field(default_factory=Audience)
    opens_at: datetime | None = None  # None: now
    remind_hours: int | None = None
    turnout_target: int | None = None  # percent
    language: str = "nl"


# --- the rules -------------------------------------------------------------------------


def _length(value: str | None, high: int, key: str, fld: str, pos: int | None = None) -> str:
    value = (value or "").strip()
    if not value or len(value) > high:
        raise SurveyRefused(key, fld, pos)
    return value


def check_question(position: int, draft: QuestionDraft) -> SurveyQuestion:
    if draft.kind not in KINDS:
        raise SurveyRefused("surveyrule.kind_unknown", "kind", position, kind=draft.kind)
    text = _length(draft.text, MAX_TEXT, "surveyrule.text_length", "text", position)
    options: list[str] = []
    if draft.kind in CHOICE_KINDS:
        if not MIN_OPTIONS <= len(draft.options) <= MAX_OPTIONS:
            raise SurveyRefused("surveyrule.option_count", "options", position)
        for label in draft.options:
            label = _length(label, MAX_OPTION, "surveyrule.option_length", "options", position)
            if fold(label) in {fold(o) for o in options}:
                raise SurveyRefused("surveyrule.option_duplicate", "options", position)
            options.append(label)
    elif draft.options:
        raise SurveyRefused("surveyrule.options_not_allowed", "options", position)
    low = high = None
    if draft.kind == SCALE:
        low = _length(draft.low, MAX_END_LABEL, "surveyrule.scale_labels", "low", position)
        high = _length(draft.high, MAX_END_LABEL, "surveyrule.scale_labels", "high", position)
    if draft.why and draft.kind == OPEN_TEXT:
        raise SurveyRefused("surveyrule.why_open", "why", position)
    return SurveyQuestion(
        position=position,
        kind=draft.kind,
        text=text,
        options=options,
        low=low,
        high=high,
        why=draft.why,
    )


def check_draft(draft: SurveyDraft, now: datetime) -> tuple[str, str, list[SurveyQuestion]]:
    title = _length(draft.title, MAX_TITLE, "surveyrule.title_length", "title")
    intro = (draft.introduction or "").strip()
    if len(intro) > MAX_INTRO:
        raise SurveyRefused("surveyrule.intro_length", "introduction")
    if not 1 <= len(draft.questions) <= MAX_QUESTIONS:
        raise SurveyRefused("surveyrule.question_count", "questions")
    questions = [check_question(i, q) for i, q in enumerate(draft.questions, start=1)]
    opens_at = draft.opens_at or now
    if draft.closes_at is None:
        raise SurveyRefused("surveyrule.closes_missing", "closes")
    if draft.closes_at <= max(opens_at, now):
        raise SurveyRefused("surveyrule.closes_past", "closes")
    if draft.remind_hours is not None and not 1 <= draft.remind_hours <= MAX_REMIND_HOURS:
        raise SurveyRefused("surveyrule.remind_hours", "remind_hours")
    if draft.turnout_target is not None and not 1 <= draft.turnout_target <= 100:
        raise SurveyRefused("surveyrule.target_range", "turnout_target")
    if draft.language not in ("nl", "en"):
        raise SurveyRefused("surveyrule.language", "language")
    return title, intro, questions


def check_answer(question: SurveyQuestion, given: Given) -> Given:
    """A valid answer to `question` (skipping is always allowed), or SurveyRefused."""
    if given.skipped:
        return given
    numbers, text = given.numbers, (given.text or "").strip() or None
    pos = question.position
    if question.kind == OPEN_TEXT:
        if numbers or text is None or len(text) > MAX_ANSWER:
            raise SurveyRefused("surveyrule.answer_length", "answer", pos)
        return Given(None, text)
    if text is not None and (not question.why or len(text) > MAX_WHY):
        raise SurveyRefused("surveyrule.why_length", "answer", pos)
    if not numbers:
        if text is not None:  # a "waarom?" after a skipped choice: a remark, no answer
            return Given(None, text)
        raise SurveyRefused("surveyrule.answer_missing", "answer", pos)
    low, high = {SCALE: SCALE_RANGE, NPS: NPS_RANGE}.get(question.kind, (1, len(question.options)))
    chosen = sorted(set(numbers))
    if any(not low <= n <= high for n in chosen):
        raise SurveyRefused("surveyrule.answer_range", "answer", pos, low=low, high=high)
    if len(chosen) > 1 and question.kind != MULTIPLE:
        raise SurveyRefused("surveyrule.answer_one", "answer", pos)
    return Given(chosen, text)
