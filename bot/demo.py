"""`achterban demo`: a small organisation to try everything with no real data."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.conversation import Services
from bot.usecases import polls as poll_jobs
from storage.models import Person
from storage.people import Audience

DEPARTMENTS = ("Productie", "Logistiek", "Onderhoud", "Kantoor")
LOCATIONS = ("Eindhoven", "Tilburg")
FIRST = (
    "Anouk", "Bram", "Daan", "Emma", "Fatima", "Gijs", "Hanna", "Ilse", "Jeroen", "Kees",
    "Lotte", "Mohamed", "Noor", "Olaf", "Priya", "Ruben", "Sanne", "Thijs", "Umut", "Vera",
    "Wouter", "Yara", "Zeynep", "Bas", "Charlotte", "Dirk", "Esther", "Floor", "Hamza", "Ingrid",
    "Joost", "Karin", "Lars", "Marieke", "Nina", "Pieter", "Roos", "Sem", "Tessa", "Youssef",
)  # fmt: skip
LAST = (
    "de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot",
    "Bos", "Vos", "Peters", "Hendriks", "van Dijk", "El Amrani", "Yilmaz", "Dekker", "Brouwer",
    "de Wit", "Dijkstra",
)  # fmt: skip
DOMAIN = "demo.example"

# E-mail → roles: three OR members (one also admin) and a moderator.
ROLES = {
    f"anouk.devries@{DOMAIN}": {"or_member", "admin"},
    f"bram.jansen@{DOMAIN}": {"or_member"},
    f"daan.bakker@{DOMAIN}": {"or_member"},
    f"emma.visser@{DOMAIN}": {"moderator"},
}


def _email(first: str, last: str) -> str:
    return f"{first.lower()}.{last.lower().replace(' ', '')}@{DOMAIN}"


async def seed_demo(services: Services) -> dict[str, object]:
    """Create 40 people in 4 departments and 2 locations and open one poll."""
    created = []
    for i, first in enumerate(FIRST):
        last = LAST[i % len(LAST)]
        person = Person(
            name=f"{first} {last}",
            email=_email(first, last),
            phone=f"+3161000{i:04d}",
            department=DEPARTMENTS[i % len(DEPARTMENTS)],
            location=LOCATIONS[i % len(LOCATIONS)],
            language="en" if i % 10 == 9 else "nl",
        )
        services.session.add(person)
        created.append(person)
    await services.session.flush()
    for person in created:
        if person.email in ROLES:
            await services.people.set_roles(person.id, ROLES[person.email])
    or_member = created[0]
    poll = await services.polls.create(
        question="Wat vind je van het nieuwe rooster met vier werkdagen van negen uur?",
        options=["Goed idee", "Liever niet", "Weet ik nog niet"],
        multiple=False,
        anonymous=False,
        hide_results=False,
        audience=Audience(),
        opens_at=services.now,
        closes_at=services.now + timedelta(days=7),
        created_by=or_member.id,
    )
    await poll_jobs.open_poll(services, poll, actor_id=or_member.id)
    await services.audit("demo.seeded", people=len(created))
    return {
        "people": len(created),
        "poll_id": poll.id,
        "or_member": or_member.email,
        "employee": created[4].email,
        "moderator": f"emma.visser@{DOMAIN}",
    }


async def roster_is_empty(services: Services) -> bool:
    return not (await services.session.execute(select(func.count(Person.id)))).scalar_one()
