"""What the survey page and the consultation report show, made once for both: the survey's
results from the use case (bot/usecases/surveys.py `results`), a server-side SVG chart per
question and per turnout breakdown, the themes of open answers (bot/themes), and the OR's
conclusion ("Wat doet de OR ermee?", the follow-up broadcast's text when one was sent).

Anonymity: the results come with groups under 5 already merged; theme examples are only
taken from themes of at least 5 answers ("overig" shows a count, never a text), and no name
is ever put next to an answer, also not for a named survey.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup
from sqlalchemy import select

from bot.conversation import Services
from bot.i18n import t
from bot.labels import channel_name
from bot.themes import MIN_SIZE
from bot.themes import answers as answer_themes
from bot.usecases import surveys as survey_cases
from bot.web.charts import Bar, Share, Stack, bar_chart, column_chart, share_chart, stacked_chart
from storage.broadcast_models import Broadcast
from storage.followup_models import FollowUp
from storage.people import Audience
from storage.stats import OTHER, UNKNOWN
from storage.survey_models import Survey
from storage.surveys import Surveys

DIMENSIONS = ("department", "location", "channel")
EXAMPLES = 3


@dataclass(frozen=True, slots=True)
class ThemeView:
    label: str
    count: int
    sentiment: str
    other: bool
    quotes: tuple[str, ...]  # representative answers; empty for "overig"


@dataclass
class QuestionView:
    result: dict[str, Any]
    chart: Markup | None
    themes: list[ThemeView] = field(default_factory=list)
    themed: int = 0  # how many texts the themes were found in


@dataclass
class SurveyView:
    survey: Survey
    results: dict[str, Any]
    questions: list[QuestionView]
    turnout_charts: dict[str, Markup]
    audience: str
    conclusion: str | None


def audience_label(survey: Survey, lang: str) -> str:
    audience = Audience.from_dict(survey.audience)
    if audience.department:
        return t(lang, "create.department", name=audience.department)
    if audience.location:
        return t(lang, "create.location", name=audience.location)
    return t(lang, "create.everyone")


def group_name(name: str, dimension: str, lang: str) -> str:
    if name == OTHER:
        return t(lang, "web.poll.other_groups")
    if name == UNKNOWN:
        return t(lang, "web.poll.unknown_group")
    return channel_name(lang, name) if dimension == "channel" else name


def question_chart(result: dict[str, Any], lang: str, chart_id: str) -> Markup | None:
    """Bars for a choice question (percent of those who answered), columns for a scale."""
    if result["kind"] == "open":
        return None
    counts = result["counts"]
    title = t(lang, "web.survey.chart_title", position=result["position"])
    description = "; ".join(
        t(lang, "web.poll.chart_row", label=c["label"], count=c["count"], pct=c["percent"])
        for c in counts
    )
    bars = [Bar(c["label"], c["count"]) for c in counts]
    if result["kind"] in ("scale", "nps"):
        return column_chart(bars, title=title, description=description, chart_id=chart_id)
    return bar_chart(
        bars, title=title, description=description, chart_id=chart_id, total=result["answered"]
    )


def turnout_chart(turnout: dict[str, Any], dimension: str, lang: str, chart_id: str) -> Markup:
    groups = turnout[f"by_{dimension}"]["groups"]
    shares = [
        Share(group_name(g["group"], dimension, lang), g["responses"], g["reach"]) for g in groups
    ]
    description = "; ".join(
        t(lang, "web.survey.turnout_row", group=s.label, part=s.part, whole=s.whole) for s in shares
    )
    title = t(lang, f"web.survey.by_{dimension}")
    return share_chart(shares, title=title, description=description, chart_id=chart_id)


def crosstab_chart(table: dict[str, Any], lang: str) -> Markup:
    """Each group's answers as one bar of 100% (bot/usecases/surveys.py `crosstab`)."""
    legend = [c["label"] for c in table["rows"][0]["counts"]]
    stacks = [
        Stack(
            group_name(row["group"], "department", lang), tuple(c["count"] for c in row["counts"])
        )
        for row in table["rows"]
    ]
    description = "; ".join(
        f"{stack.label}: "
        + ", ".join(
            t(lang, "web.poll.chart_row", label=c["label"], count=c["count"], pct=c["percent"])
            for c in row["counts"]
        )
        for stack, row in zip(stacks, table["rows"], strict=True)
    )
    title = t(lang, "web.survey.crosstab_chart", position=table["question"])
    return stacked_chart(stacks, legend, title=title, description=description, chart_id="cross")


async def themes_view(texts: list[dict[str, Any]], lang: str) -> list[ThemeView]:
    """Themes of (id, text) answers; quotes only from themes of at least MIN_SIZE answers."""
    by_id: dict[int, str] = {a["id"]: a["text"] for a in texts}
    found = await answer_themes.themes_of([(a["id"], a["text"]) for a in texts])
    out = []
    for theme in found:
        quotable = not theme.other and theme.count >= MIN_SIZE
        # Each quote once: several colleagues may have written the very same words.
        unique = dict.fromkeys(by_id[i] for i in theme.examples if i in by_id)
        quotes = tuple(list(unique)[:EXAMPLES]) if quotable else ()
        out.append(
            ThemeView(
                label=answer_themes.label(theme, lang),
                count=theme.count,
                sentiment=t(lang, f"themes.{theme.sentiment}"),
                other=theme.other,
                quotes=quotes,
            )
        )
    return out


async def conclusion_of(services: Services, survey_id: int) -> str | None:
    """The text the OR sent as "Wat doet de OR ermee?" for this survey, if it did."""
    stmt = (
        select(Broadcast.text)
        .join(FollowUp, FollowUp.broadcast_id == Broadcast.id)
        .where(FollowUp.subject_kind == "survey", FollowUp.subject_id == survey_id)
    )
    return (await services.session.execute(stmt)).scalar_one_or_none()


async def survey_view(
    services: Services, survey_id: int, lang: str, *, themes: bool = True
) -> SurveyView | None:
    """Everything the page and the report show; None when there is no such survey.
    `themes` False leaves the themes out (the live figures, fetched every few seconds)."""
    survey = await Surveys(services.session).get(survey_id)
    if survey is None:
        return None
    results = await survey_cases.results(services, survey_id)
    questions = []
    for result in results["questions"]:
        view = QuestionView(result, question_chart(result, lang, f"q{result['position']}"))
        texts = result.get("answers") or result.get("why") or []
        if texts and themes:
            view.themes = await themes_view(texts, lang)
            view.themed = len(texts)
        questions.append(view)
    turnout = results["turnout"]
    charts = {
        dim: turnout_chart(turnout, dim, lang, f"turnout-{dim}")
        for dim in DIMENSIONS
        if turnout[f"by_{dim}"]["groups"]
    }
    return SurveyView(
        survey=survey,
        results=results,
        questions=questions,
        turnout_charts=charts,
        audience=audience_label(survey, lang),
        conclusion=await conclusion_of(services, survey_id),
    )
