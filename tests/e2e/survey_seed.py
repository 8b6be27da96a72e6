"""A consultation with long realistic content for the browser tests (tests/e2e/seed.py calls
`seed_survey`): long title and questions, every kind, answered through the use case by the
organisation's colleagues, with open answers that make a theme."""

from __future__ import annotations

from datetime import timedelta

from bot.engine import Engine
from bot.surveys.progress import Given
from bot.usecases import surveys as survey_cases
from bot.usecases.surveys import QuestionDraft, SurveyDraft
from tests.support.org import Org
from tests.support.usecases import run

TITLE = (
    "Raadpleging adviesaanvraag (art. 25 WOR): reorganisatie van de afdelingen Productie, "
    "Logistiek en Onderhoud en Technische Dienst per 1 april 2027"
)
QUESTIONS = (
    QuestionDraft(
        "single",
        "Steun je het voorstel van de directie om de ploegendiensten van de afdeling Productie "
        "samen te voegen met die van Logistiek?",
        (
            "Ja, volledig en zonder voorbehoud",
            "Ja, maar alleen met een goede overgangsregeling voor de oudere collega's",
            "Nee",
            "Weet ik niet",
        ),
        why=True,
    ),
    QuestionDraft(
        "multiple",
        "Wat is voor jou het belangrijkst bij de nieuwe indeling?",
        ("Roosterzekerheid", "Reistijd naar de nieuwe locatie", "Salaris en toeslagen"),
    ),
    QuestionDraft(
        "scale",
        "Hoe goed voel je je geïnformeerd over de reorganisatie?",
        low="helemaal niet geïnformeerd",
        high="uitstekend geïnformeerd",
    ),
    QuestionDraft("nps", "Hoe waarschijnlijk is het dat je dit bedrijf aanraadt als werkgever?"),
    QuestionDraft("open", "Wat moet de ondernemingsraad meenemen in zijn advies?"),
)
OPEN = [
    "Zorg voor een eerlijke overgangsregeling voor de ploegentoeslag",
    "De ploegentoeslag mag er niet op achteruit gaan",
    "Behoud van de ploegentoeslag is voor mij het belangrijkst",
    "Ploegentoeslag moet blijven zoals hij is",
    "Geen verlies van ploegentoeslag alstublieft",
    "Onderhoudsmonteur-specialistenploeg-coördinatiewerkzaamheden verdienen aandacht",
]


async def seed_survey(engine: Engine, org: Org) -> int:
    async def create(services):  # type: ignore[no-untyped-def]
        draft = SurveyDraft(
            title=TITLE,
            introduction="De directie vraagt advies; de OR wil eerst weten wat jullie vinden.",
            questions=QUESTIONS,
            closes_at=services.now + timedelta(days=7),
            turnout_target=60,
            remind_hours=24,
        )
        created = await survey_cases.create_survey(services, draft, actor_id=None)
        return created.survey.id

    survey_id: int = await run(engine, create)
    for i, key in enumerate(k for k in org.people if k.startswith("emp")):
        given = [
            Given([1 + i % 4], "Omdat de overgangsregeling nog onduidelijk is" if i < 6 else None),
            Given([1, 2] if i % 2 else [3]),
            Given([2 + i % 4]),
            Given([i + 2]),
            Given(None, OPEN[i % len(OPEN)]),
        ]

        async def answer(services, person=org.people[key], given=given):  # type: ignore[no-untyped-def]
            answering = await survey_cases.begin(services, survey_id, person, "web")
            for position, one in enumerate(given, start=1):
                await survey_cases.record(services, answering, position, one)
            await survey_cases.finish(services, answering)

        await run(engine, answer)
    return survey_id
