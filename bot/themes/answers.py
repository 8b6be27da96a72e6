"""Themes of the answers to an open question, as the CLI and the dashboard show them.

The answers are the ones `achterban question answers ID` lists (hidden ones left out), so the
ids in a theme are the ids shown there. Finding themes takes CPU time (about 0.3 s for 300
answers, a few seconds for 10,000), so it runs in a worker thread and the server keeps
answering meanwhile. A survey question's answers come from `survey_answers`.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import t
from bot.themes import Theme, find_themes
from storage.questions import Questions
from storage.surveys import Surveys

KEEP = 16  # results kept in this process
_recent: OrderedDict[bytes, list[Theme]] = OrderedDict()


@dataclass(frozen=True, slots=True)
class Answers:
    """The open answers to one question: its text and (answer id, text) pairs."""

    question: str
    pairs: list[tuple[int, str]]


async def question_answers(session: AsyncSession, question_id: int) -> Answers | None:
    """An open question's visible answers (the ids `question answers ID` shows)."""
    questions = Questions(session)
    question = await questions.get(question_id)
    if question is None:
        return None
    answers = await questions.answers(question)
    return Answers(question.text, [(a.id, a.text) for a in answers])


async def survey_answers(session: AsyncSession, survey_id: int, position: int) -> Answers | None:
    """The texts given to question `position` of a survey: an open question's answers, or
    the "waarom?" texts after a choice (the ids `survey results` shows)."""
    surveys = Surveys(session)
    if await surveys.get(survey_id) is None:
        return None
    question = next((q for q in await surveys.questions(survey_id) if q.position == position), None)
    if question is None:
        return None
    pairs = []
    for response in await surveys.responses(survey_id):
        answer = response.answers.get(question.id)
        if answer is not None and answer.text:
            pairs.append((answer.id, answer.text))
    return Answers(question.text, pairs)


async def themes_of(answers: Sequence[tuple[int, str]]) -> list[Theme]:
    """`find_themes` in a worker thread: the event loop goes on while it counts. The same
    answers give the same themes, so the last few results are kept (by a digest of the
    answers: a new, changed or hidden answer is a new set); a dashboard page viewed again
    costs nothing."""
    pairs = list(answers)
    key = hashlib.blake2b(repr(pairs).encode("utf-8"), digest_size=16).digest()
    if (found := _recent.get(key)) is not None:
        _recent.move_to_end(key)
        return found
    found = await asyncio.to_thread(find_themes, pairs)
    _recent[key] = found
    while len(_recent) > KEEP:
        _recent.popitem(last=False)
    return found


def label(theme: Theme, lang: str) -> str:
    """The theme's label; "overig" (other) in the reader's language."""
    return t(lang, "themes.other") if theme.other else theme.label


def as_dicts(themes: Sequence[Theme], lang: str) -> list[dict[str, Any]]:
    """The themes as JSON: label, terms, count, sentiment (and how many answers lean each
    way), examples and all answer ids."""
    return [
        {
            "label": label(theme, lang),
            "other": theme.other,
            "terms": list(theme.terms),
            "count": theme.count,
            "sentiment": str(theme.sentiment),
            "sentiment_counts": {str(k): v for k, v in theme.leaning.items()},
            "examples": list(theme.examples),
            "answers": sorted(theme.answer_ids),
        }
        for theme in themes
    ]
