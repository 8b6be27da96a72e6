"""Survey texts for the chat: one answer as the person gave it, and the results for an OR
member ("uitslag raadpleging 3"). Plain text that every channel shows as it is."""

from __future__ import annotations

from typing import Any

from bot.conversation import Services
from bot.i18n import t
from bot.messages import Choice, Outgoing, Purpose
from bot.surveys.progress import Given
from bot.surveys.results import values_of
from storage.survey_models import Survey, SurveyQuestion

BAR = 10  # characters of a full bar


def answer_text(question: SurveyQuestion, given: Given, lang: str) -> str:
    """What the person answered to `question` ('overgeslagen' when skipped)."""
    if given.skipped:
        return t(lang, "survey.skipped")
    labels = dict(values_of(question))
    parts = [labels.get(n, str(n)) for n in given.numbers or ()]
    if not parts and question.kind != "open":
        parts.append(t(lang, "survey.skipped"))  # skipped, with a remark after it
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


# --- the invitation (sent by the use case on opening and as the reminder) ---


def start_payload(survey_id: int) -> str:
    return f"svy:{survey_id}:start"


def minutes(count: int) -> int:
    """About how long a survey takes: half a minute a question, at least one minute."""
    return max(1, round(count / 2))


def invitation(
    services: Services, survey: Survey, count: int, lang: str, *, reminder: bool = False
) -> Outgoing:
    head = "survey.reminder" if reminder else "survey.invitation"
    lines = [t(lang, head, id=survey.id, title=survey.title)]
    if survey.introduction:
        lines += ["", survey.introduction]
    lines += ["", t(lang, "survey.length", count=count, minutes=minutes(count))]
    lines.append(t(lang, "survey.is_anonymous" if survey.anonymous else "survey.is_named"))
    lines.append(t(lang, "survey.closes", when=services.format_time(survey.closes_at, lang)))
    lines.append(t(lang, "survey.how_to_start", id=survey.id))
    return Outgoing(
        text="\n".join(lines),
        choices=(Choice(t(lang, "survey.start_button"), start_payload(survey.id)),),
        purpose=Purpose.NOTICE,
    )
