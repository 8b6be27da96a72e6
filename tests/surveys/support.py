"""Helpers for the survey tests: a five-question survey (every kind) and answering it."""

from __future__ import annotations

from datetime import timedelta

from bot.engine import Engine
from bot.surveys.progress import Given
from bot.usecases import surveys as survey_cases
from bot.usecases.surveys import QuestionDraft, SurveyDraft
from storage.models import Person
from tests.support.usecases import run

QUESTIONS = (
    QuestionDraft("single", "Steun je het voorstel?", ("Ja", "Nee", "Weet niet"), why=True),
    QuestionDraft("multiple", "Wat is belangrijk?", ("Salaris", "Rooster", "Reistijd")),
    QuestionDraft("scale", "Hoe druk is het?", low="rustig", high="veel te druk"),
    QuestionDraft("nps", "Zou je ons aanraden als werkgever?"),
    QuestionDraft("open", "Wat moet de OR weten?"),
)


def draft(*, anonymous: bool = True, days: int = 7, **kw: object) -> SurveyDraft:
    return SurveyDraft(
        title="Werkdruk",
        questions=QUESTIONS,
        closes_at=None,  # set by make_survey
        anonymous=anonymous,
        **kw,  # type: ignore[arg-type]
    )


async def make_survey(engine: Engine, *, anonymous: bool = True, **kw: object) -> int:
    async def go(services):  # type: ignore[no-untyped-def]
        base = draft(anonymous=anonymous, **kw)
        full = SurveyDraft(**{**_fields(base), "closes_at": services.now + timedelta(days=7)})
        return (await survey_cases.create_survey(services, full, actor_id=None)).survey.id

    return await run(engine, go)


def _fields(d: SurveyDraft) -> dict[str, object]:
    return {name: getattr(d, name) for name in SurveyDraft.__dataclass_fields__}


async def answer_all(
    engine: Engine, survey_id: int, person: Person, answers: list[Given], channel: str = "web"
) -> int:
    """Answer every question through the use case and finish; returns the response id."""

    async def go(services):  # type: ignore[no-untyped-def]
        answering = await survey_cases.begin(services, survey_id, person, channel)
        for position, given in enumerate(answers, start=1):
            await survey_cases.record(services, answering, position, given)
        return (await survey_cases.finish(services, answering)).response_id

    return await run(engine, go)
