"""Themes of the answers to an open question, as the CLI and the dashboard show them.

The answers are the ones `achterban question answers ID` lists (hidden ones left out), so the
ids in a theme are the ids shown there. Finding themes takes CPU time (about 0.3 s for 300
answers, a few seconds for 10,000), so it runs in a worker thread and the server keeps
answering meanwhile. Surveys call `themes_of` with their own (id, text) pairs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import t
from bot.themes.cluster import Theme, find_themes
from storage.questions import Questions


async def themes_of(answers: Sequence[tuple[int, str]]) -> list[Theme]:
    """`find_themes` in a worker thread: the event loop goes on while it counts."""
    return await asyncio.to_thread(find_themes, list(answers))


async def question_themes(session: AsyncSession, question_id: int) -> list[Theme] | None:
    """The themes of a question's visible answers; None when there is no such question."""
    questions = Questions(session)
    question = await questions.get(question_id)
    if question is None:
        return None
    answers = await questions.answers(question)
    return await themes_of([(a.id, a.text) for a in answers])


def label(theme: Theme, lang: str) -> str:
    """The theme's label; "overig" (other) in the reader's language."""
    return t(lang, "themes.other") if theme.other else theme.label


def as_dicts(themes: Sequence[Theme], lang: str) -> list[dict[str, Any]]:
    """The themes as JSON: label, terms, count, sentiment, examples and all answer ids."""
    return [
        {
            "label": label(theme, lang),
            "other": theme.other,
            "terms": list(theme.terms),
            "count": theme.count,
            "sentiment": str(theme.sentiment),
            "examples": list(theme.examples),
            "answers": sorted(theme.answer_ids),
        }
        for theme in themes
    ]
