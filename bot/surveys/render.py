"""Survey texts for the chat: one answer as the person gave it, and the results for an OR
member ("uitslag raadpleging 3"). Plain text that every channel shows as it is."""

from __future__ import annotations

from typing import Any

from bot.i18n import t
from bot.surveys.progress import Given
from bot.surveys.results import values_of
from storage.survey_models import SurveyQuestion

BAR = 10  # characters of a full bar


def answer_text(question: SurveyQuestion, given: Given, lang: str) -> str:
    """What the person answered to `question` ('overgeslagen' when skipped)."""
    if given.skipped:
        return t(lang, "survey.skipped")
    labels = dict(values_of(question))
    parts = [labels.get(n, str(n)) for n in given.numbers or ()]
    if given.text:
        parts.append(f"“{given.text}”")
    return ", ".join(parts)


def _bar(pct: float) -> str:
    return "█" * round(pct / 100 * BAR)


def results_text(result: dict[str, Any], lang: str) -> str:
    """The results as lines: turnout, then per question its counts, mean or eNPS."""
    survey, turnout = result["survey"], result["turnout"]
    head = "survey.results_head" if survey["status"] == "closed" else "survey.results_live"
    lines = [t(lang, head, id=survey["id"], title=survey["title"])]
    lines.append(
        t(
            lang,
            "survey.results_turnout",
            finished=turnout["finished"],
            audience=turnout["audience"],
            percent=turnout["percent"],
        )
    )
    if turnout["target"] is not None:
        lines.append(t(lang, "survey.results_target", target=turnout["target"]))
    for q in result["questions"]:
        lines += ["", f"{q['position']}. {q['text']}"]
        lines.append(
            t(lang, "survey.results_answered", answered=q["answered"], responses=q["responses"])
        )
        if q["kind"] == "open":
            lines.append(t(lang, "survey.results_open", count=len(q["answers"])))
            continue
        for c in q["counts"]:
            lines.append(
                f"  {c['label']}: {c['count']} ({c['percent']}%) {_bar(c['percent'])}".rstrip()
            )
        if q.get("mean") is not None:
            lines.append("  " + t(lang, "survey.results_mean", mean=q["mean"]))
        if q.get("enps") is not None:
            lines.append("  " + t(lang, "survey.results_enps", enps=q["enps"]))
    return "\n".join(lines)
