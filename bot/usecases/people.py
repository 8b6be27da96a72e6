"""People: the commands that change who someone is to the bot — their roles, and forgetting
them — with their rules in one place. The dashboard (bot/web/people_views.py) and the CLI
(bot/cli/roster.py) call these; invitations and dashboard links are in bot/usecases/access.py.

Rules: a forgotten person cannot be given roles (their row only keeps counts right); nobody
takes their own admin role away (another admin must, so a council never locks itself out);
every change is audited as the actor's act. A role taken away also takes the person's web chat
history: what they were shown under it (a report to moderate, say) must not stay readable
there. Open polls and questions are listed again by the chat's "open for you" panel.
"""

from __future__ import annotations

from collections.abc import Collection

from bot.conversation import Services
from bot.usecases import Refused
from storage.models import Person
from storage.people import ROLES
from storage.web import WebMailbox

ROLES_CHANGED = "roles.changed"
FORGOTTEN = "person.forgotten"


async def living(services: Services, person_id: int) -> Person:
    """The person with this id, or Refused when there is none or they were forgotten."""
    person = await services.people.get(person_id)
    if person is None or person.forgotten_at is not None:
        raise Refused("people.unknown")
    return person


async def set_roles(
    services: Services, person_id: int, wanted: Collection[str], *, actor_id: int | None
) -> bool:
    """Give the person exactly the roles in `wanted`; True when anything changed.

    `actor_id` None is the server's operator (CLI), who may do anything the database allows."""
    unknown = set(wanted) - set(ROLES)
    if unknown:
        raise Refused("people.bad_role", roles=", ".join(sorted(unknown)))
    person = await living(services, person_id)
    wanted = set(wanted)
    if actor_id == person.id and "admin" not in wanted:
        raise Refused("people.own_admin")
    before = await services.people.roles(person.id)
    if before == wanted:
        return False
    await services.people.set_roles(person.id, wanted)
    if before - wanted:
        await WebMailbox(services.session).clear_person(person.id)
    await services.audit(
        ROLES_CHANGED,
        actor_id=actor_id,
        subject=f"person:{person.id}",
        added=sorted(wanted - before),
        removed=sorted(before - wanted),
    )
    return True


async def forget(services: Services, person_id: int, *, actor_id: int | None) -> None:
    """Erase what identifies the person (storage.people.People.forget says what goes); the
    anonymous counts and named results stay, without a name."""
    person = await living(services, person_id)
    if actor_id == person.id:
        # Forgetting oneself would end one's own session in the middle of the request.
        raise Refused("people.own_forget")
    await services.people.forget(person, now=services.now)
    await services.audit(FORGOTTEN, actor_id=actor_id, subject=f"person:{person.id}")
