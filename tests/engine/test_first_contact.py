"""A colleague's first message from a new account (bot/identity.py, storage/first_contact.py):
matched on the roster by e-mail in any case, else by phone, linked once, and written as having
just written — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.engine import Engine
from bot.messages import Incoming, Profile
from storage.db import Database
from storage.models import ChannelAccount, OutboxMessage, Person, utcnow
from storage.outbox import HELD, PENDING
from tests.support.databases import count


async def people(db: Database, *rows: dict[str, str | None]) -> list[int]:
    async with db.transaction() as session:
        added = [Person(**row) for row in rows]
        session.add_all(added)
        await session.flush()
        return [p.id for p in added]


async def account_of(db: Database, channel: str, platform_id: str) -> ChannelAccount | None:
    async with db.transaction(read_only=True) as session:
        stmt = select(ChannelAccount).where(
            ChannelAccount.channel == channel, ChannelAccount.platform_id == platform_id
        )
        return (await session.execute(stmt)).scalar_one_or_none()


async def test_an_email_in_another_case_finds_the_colleague_and_links_once(
    engine: Engine,
) -> None:
    [anna] = await people(engine.db, {"name": "Anna", "email": "anna.bakker@example.org"})
    for n in range(2):
        outcome = await engine.handle(
            Incoming(
                channel="slack", event_id=f"e{n}", account="U1", text="hoi",
                profile=Profile(email="Anna.Bakker@Example.org "),
            )
        )  # fmt: skip
        assert not outcome.refused and outcome.person_id == anna
    assert await count(engine.db, ChannelAccount) == 1


async def test_a_phone_finds_the_colleague_and_releases_what_was_held_for_them(
    engine: Engine,
) -> None:
    [piet] = await people(engine.db, {"name": "Piet", "phone": "+31612345678"})
    account = "whatsapp:+31612345678"
    news = OutboxMessage(
        channel="whatsapp", account=account, person_id=piet, payload={"text": "Nieuws"},
        status=HELD, next_attempt_at=utcnow() + timedelta(days=1),
    )  # fmt: skip
    async with engine.db.transaction() as session:
        session.add(news)
    before = utcnow()
    outcome = await engine.handle(
        Incoming(
            channel="whatsapp", event_id="w1", account=account, text="hallo",
            profile=Profile(phone="+31612345678"),
        )
    )  # fmt: skip
    assert outcome.person_id == piet
    linked = await account_of(engine.db, "whatsapp", account)
    assert linked is not None and linked.person_id == piet
    assert linked.last_inbound_at is not None and linked.last_inbound_at >= before
    async with engine.db.transaction(read_only=True) as session:
        held = await session.get(OutboxMessage, news.id)
    assert held is not None
    assert held.status == PENDING and held.next_attempt_at <= utcnow()


async def test_the_email_wins_over_the_phone(engine: Engine) -> None:
    by_mail, by_phone = await people(
        engine.db,
        {"name": "Mail", "email": "mail@example.org"},
        {"name": "Phone", "phone": "+31600000001"},
    )
    outcome = await engine.handle(
        Incoming(
            channel="teams", event_id="t1", account="29:abc", text="hoi",
            profile=Profile(email="mail@example.org", phone="+31600000001"),
        )
    )  # fmt: skip
    assert outcome.person_id == by_mail != by_phone


async def test_a_forgotten_colleague_is_not_linked_again(engine: Engine) -> None:
    await people(engine.db, {"name": "Weg", "email": "weg@example.org"})
    async with engine.db.transaction() as session:
        person = (await session.execute(select(Person))).scalar_one()
        person.forgotten_at = utcnow()
    outcome = await engine.handle(
        Incoming(
            channel="slack", event_id="f1", account="U9", text="hoi",
            profile=Profile(email="weg@example.org"),
        )
    )  # fmt: skip
    assert outcome.refused
    assert await count(engine.db, ChannelAccount) == 0


async def test_an_unknown_phone_is_refused_and_nothing_is_linked(engine: Engine) -> None:
    await people(engine.db, {"name": "Piet", "phone": "+31612345678"})
    outcome = await engine.handle(
        Incoming(
            channel="whatsapp", event_id="w2", account="whatsapp:+31699999999", text="1",
            profile=Profile(phone="+31699999999"),
        )
    )  # fmt: skip
    assert outcome.refused
    assert await count(engine.db, ChannelAccount) == 0
