"""The people use case: roles and forgetting, each rule once, on both backends."""

from __future__ import annotations

from sqlalchemy import select

from bot.engine import Engine
from bot.usecases import people
from storage.models import AuditEntry, ChannelAccount, utcnow
from storage.web import WEB_CHANNEL, WebMailbox
from storage.web_models import WebMessage
from tests.support.org import Org
from tests.support.usecases import refusal, run


async def roles_of(engine: Engine, person_id: int) -> set[str]:
    async with engine.db.transaction(read_only=True) as session:
        return await engine.services(session).people.roles(person_id)


async def audit_actions(engine: Engine) -> list[tuple[str, int | None, str | None]]:
    async with engine.db.transaction(read_only=True) as session:
        entries = (await session.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars()
        return [(e.action, e.actor_id, e.subject) for e in entries]


async def test_roles_are_set_and_audited_as_the_actors_act(engine: Engine) -> None:
    org = await Org.create(engine, employees=2)
    admin, emp = org.people["olga"], org.people["emp0"]
    changed = await run(
        engine, lambda s: people.set_roles(s, emp.id, {"moderator"}, actor_id=admin.id)
    )
    assert changed
    assert await roles_of(engine, emp.id) == {"moderator"}
    assert (people.ROLES_CHANGED, admin.id, f"person:{emp.id}") in await audit_actions(engine)
    # The same roles again change nothing and audit nothing.
    before = await audit_actions(engine)
    assert not await run(
        engine, lambda s: people.set_roles(s, emp.id, {"moderator"}, actor_id=admin.id)
    )
    assert await audit_actions(engine) == before


async def test_nobody_takes_their_own_admin_role_away(engine: Engine) -> None:
    org = await Org.create(engine, employees=1)
    admin = org.people["olga"]
    await run(engine, lambda s: people.set_roles(s, admin.id, {"admin"}, actor_id=None))
    refused = await refusal(
        engine, lambda s: people.set_roles(s, admin.id, {"or_member"}, actor_id=admin.id)
    )
    assert refused.key == "people.own_admin"
    assert await roles_of(engine, admin.id) == {"admin"}


async def test_an_unknown_role_is_refused(engine: Engine) -> None:
    org = await Org.create(engine, employees=1)
    emp = org.people["emp0"]
    refused = await refusal(
        engine, lambda s: people.set_roles(s, emp.id, {"superuser"}, actor_id=None)
    )
    assert refused.key == "people.bad_role"
    assert await roles_of(engine, emp.id) == set()


async def test_forgetting_audits_and_a_forgotten_person_gets_no_roles(engine: Engine) -> None:
    org = await Org.create(engine, employees=1)
    admin, emp = org.people["olga"], org.people["emp0"]
    await run(engine, lambda s: people.forget(s, emp.id, actor_id=admin.id))
    assert (people.FORGOTTEN, admin.id, f"person:{emp.id}") in await audit_actions(engine)
    for command in (
        lambda s: people.set_roles(s, emp.id, {"moderator"}, actor_id=admin.id),
        lambda s: people.forget(s, emp.id, actor_id=admin.id),
    ):
        assert (await refusal(engine, command)).key == "people.unknown"


async def test_nobody_forgets_themselves(engine: Engine) -> None:
    org = await Org.create(engine, employees=1)
    admin = org.people["olga"]
    refused = await refusal(engine, lambda s: people.forget(s, admin.id, actor_id=admin.id))
    assert refused.key == "people.own_forget"


async def web_history(engine: Engine, account: str) -> int:
    async with engine.db.transaction(read_only=True) as session:
        stmt = select(WebMessage).where(WebMessage.account == account)
        return len((await session.execute(stmt)).scalars().all())


async def test_a_role_taken_away_takes_the_web_chat_history_along(engine: Engine) -> None:
    org = await Org.create(engine, employees=1)
    mo = org.people["mo"]
    async with engine.db.transaction() as session:
        session.add(ChannelAccount(person_id=mo.id, channel=WEB_CHANNEL, platform_id="web-mo"))
        await WebMailbox(session).put("web-mo", {"text": "Melding 1234567 wacht"}, now=utcnow())
    # A role added keeps what was shown; one taken away clears it.
    both = {"moderator", "or_member"}
    await run(engine, lambda s: people.set_roles(s, mo.id, both, actor_id=None))
    assert await web_history(engine, "web-mo") == 1
    await run(engine, lambda s: people.set_roles(s, mo.id, {"or_member"}, actor_id=None))
    assert await web_history(engine, "web-mo") == 0
