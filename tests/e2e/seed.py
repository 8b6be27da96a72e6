"""A works council's dashboard with long, realistic content, for the layout test and the
screenshots: long names and e-mail addresses, long poll questions with many options, a long
broadcast with a link, answers, a report with a photo, a nomination round with reasons.

Everything goes through the use cases (and the chat for votes), as in production. The ids of
what was made fill the dashboard's paths with parameters (see PAGES in test_layout.py).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from PIL import Image
from sqlalchemy import select, update

from bot.engine import Engine
from bot.usecases import questions
from bot.usecases.nominations import nominate
from bot.usecases.polls import vote_payload
from storage.job_models import ReportPhoto
from storage.media import ORIGINAL, PROCESSED, MediaStore
from storage.models import Person, utcnow
from storage.people import Audience
from storage.reports import NAMED, NewPhoto, Reports
from tests.e2e.survey_seed import seed_survey
from tests.support.broadcasts import create as create_broadcast
from tests.support.nominations import open_campaign
from tests.support.org import Org
from tests.support.polls import create_poll

NAMES = {
    "olga": ("Olga Wilhelmina van den Bosch-Schimmelpenninck", "Onderhoud en Technische Dienst"),
    "emp0": ("Maximiliaan Alexander Oosterhuis-Vanderbrugghen", "Productie"),
    "emp1": ("Christopher Jonathan Fitzgerald-Worthington", "Logistiek"),
    "emp2": ("Anne-Marie Jacqueline Hoogeveen-Drenthe", "Productie"),
    "emp3": ("Bartholomeus Theodorus van Wijngaarden", "Logistiek"),
}
QUESTION = (
    "Hoe tevreden ben je over de nieuwe roosterplanning in de productiehal sinds de invoering "
    "van de ploegendiensten in september, en zou je willen dat de ondernemingsraad hierover "
    "opnieuw met de directie in gesprek gaat?"
)
OPTIONS = [
    "Zeer tevreden, de nieuwe indeling werkt voor mij prima",
    "Tevreden, maar de overdracht tussen de ploegen kan beter",
    "Neutraal, ik merk weinig verschil met het oude rooster",
    "Ontevreden, ik heb minder tijd voor mijn gezin",
    "Zeer ontevreden, de nachtdiensten zijn te zwaar geworden",
    "Weet ik niet, ik werk nog maar kort in deze afdeling",
    "Anders, ik licht het toe bij de open vraag",
    "Geen mening",
]
BROADCAST = (
    "Beste collega's, de ondernemingsraad heeft vandaag overeenstemming bereikt met de directie "
    "over de arbeidsvoorwaarden voor 2027. De belangrijkste afspraken: een loonsverhoging van "
    "3,5 procent per 1 januari, een extra vrije dag voor iedereen met meer dan tien dienstjaren, "
    "en een thuiswerkvergoeding die meestijgt met de inflatie. Lees de volledige tekst op "
    "https://intranet.voorbeeld.nl/ondernemingsraad/nieuws/2026/arbeidsvoorwaarden-akkoord-2027 "
    "of vraag het je OR-vertegenwoordiger."
)
OPEN_QUESTION = (
    "Wat zou volgens jou het belangrijkste onderwerp moeten zijn voor het overleg met de "
    "directie over de werkdruk in de tweede helft van het jaar?"
)
ANSWERS = [
    "De werkdruk in de expeditie is sinds de reorganisatie onhoudbaar: we doen met vier mensen "
    "het werk van zes, en de overuren worden niet altijd uitbetaald.",
    "Meer inspraak bij het maken van de roosters, en eerder weten wanneer je moet werken.",
]
REPORT = (
    "Bij de laadperrons aan de achterkant van hal 3 ligt al weken een losse stroomkabel over het "
    "looppad; heftrucks rijden eroverheen en er is bijna iemand over gestruikeld."
)


@dataclass(frozen=True, slots=True)
class Seeded:
    poll: int
    question: int
    report: int
    photo: int
    nomination: int
    broadcast: int
    person: int
    survey: int


async def seed(engine: Engine, org: Org, media: MediaStore) -> Seeded:
    """Long because it makes one of everything the dashboard shows, each with long content."""
    # Votes first: the chat knows these colleagues by their e-mail, renamed below.
    poll_id, options = await create_poll(engine, OPTIONS, question=QUESTION)
    await create_poll(engine, OPTIONS[:3], question=QUESTION[:120], anonymous=True)
    for i, key in enumerate(("emp0", "emp1", "emp2", "emp3")):
        await org.say(key, choice=vote_payload(poll_id, options[i % 3]))
    async with engine.db.transaction() as session:
        for key, (name, department) in NAMES.items():
            first, *rest = name.lower().split()
            email = f"{first[0]}.{rest[-1]}@onderhoudsbedrijf-voorbeeld.nl"
            await session.execute(
                update(Person)
                .where(Person.id == org.people[key].id)
                .values(name=name, email=email, department=department)
            )
    async with engine.db.transaction() as session:
        services = engine.services(session)
        opened = await questions.create(
            services,
            text=OPEN_QUESTION,
            anonymous=False,
            audience=Audience(),
            closes_at=services.now + timedelta(days=7),
            created_by=org.people["olga"].id,
        )
        question_id = opened.question.id
        for key, text in zip(("emp0", "emp2"), ANSWERS, strict=True):
            await questions.answer(services, question_id, org.people[key].id, text)
    broadcast_id = await create_broadcast(engine, BROADCAST, acknowledge=True)
    image = io.BytesIO()
    Image.new("RGB", (640, 400), (200, 120, 40)).save(image, "JPEG")
    processed = media.put(image.getvalue(), PROCESSED)
    original = media.put(image.getvalue(), ORIGINAL)
    async with engine.db.transaction() as session:
        report = await Reports(session).create(
            reporter_id=org.people["emp0"].id, privacy=NAMED, description=REPORT,
            location="Hal 3, laadperron achterzijde, naast de oude compressorruimte",
            recognisable="no", consent=None, now=utcnow(),
            photos=[NewPhoto(processed, original, faces=0, blurred=0, width=640, height=400)],
        )  # fmt: skip
        report_id = report.id
        photo_id = (
            await session.execute(select(ReportPhoto.id).where(ReportPhoto.report_id == report_id))
        ).scalar_one()
    campaign = await open_campaign(
        engine, title="Verkiezingen ondernemingsraad 2027: kandidaten voor de afdeling Productie"
    )
    async with engine.db.transaction() as session:
        services = engine.services(session)
        reason = "Zij kent de werkvloer als geen ander en durft de directie tegen te spreken."
        for key, nominee in (("emp0", "emp2"), ("emp1", "emp2"), ("emp2", "emp3")):
            await nominate(services, campaign, org.people[key].id, [org.people[nominee].id], reason)
    return Seeded(
        poll=poll_id,
        question=question_id,
        report=report_id,
        photo=photo_id,
        nomination=campaign,
        broadcast=broadcast_id,
        person=org.people["emp0"].id,
        survey=await seed_survey(engine, org),
    )


# GET routes of the dashboard that are no page of their own (downloads, a fragment, a photo).
NOT_PAGES = {
    "/admin/": "the overview again (/admin)",
    "/admin/polls/{id}/results.csv": "a CSV download",
    "/admin/questions/{id}/answers.csv": "a CSV download",
    "/admin/polls/{id}/live": "the live part of the poll page, fetched by admin.js",
    "/admin/media/{media}": "a photo",
    "/admin/surveys/{id}/report.pdf": "a PDF download",
    "/admin/surveys/{id}/live": "the live part of the survey page, fetched by admin.js",
}
# Pages shown before logging in (visited without a session).
PUBLIC = ("/admin/login", "/admin/login/{token}")


def page_paths(routes: list[web.AbstractRouteDef], seeded: Seeded) -> list[str]:
    """Every dashboard page as a path to visit, from the routes the server adds
    (bot/web/routes.py), so a page added later is visited too, or this fails until its path
    parameters get a seed here."""
    filled = {
        "/admin/polls/{id}": f"/admin/polls/{seeded.poll}",
        "/admin/questions/{id}": f"/admin/questions/{seeded.question}",
        "/admin/reports/{id}": f"/admin/reports/{seeded.report}",
        "/admin/reports/{id}/photos/{photo}": (
            f"/admin/reports/{seeded.report}/photos/{seeded.photo}"
        ),
        "/admin/nominations/{id}": f"/admin/nominations/{seeded.nomination}",
        "/admin/broadcasts/{id}": f"/admin/broadcasts/{seeded.broadcast}",
        "/admin/people/{id}": f"/admin/people/{seeded.person}",
        "/admin/surveys/{id}": f"/admin/surveys/{seeded.survey}",
    }
    paths = []
    for route in routes:
        if not isinstance(route, web.RouteDef) or route.method != "GET":
            continue
        pattern = route.path
        if not pattern.startswith("/admin") or pattern in NOT_PAGES or pattern in PUBLIC:
            continue
        if "{" in pattern:
            assert pattern in filled, f"new dashboard page {pattern}: give it a seed in page_paths"
            paths.append(filled[pattern])
        else:
            paths.append(pattern)
    return paths
