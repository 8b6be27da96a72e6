"""`Services.notify_many`: one fan-out may mix messages that ask something with messages that
do not; each row keeps its own prompt (or none) — on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from bot.engine import Engine
from bot.fanout import per_language
from bot.messages import Choice, Outgoing
from storage.models import ChannelAccount, OutboxMessage, Person, utcnow
from tests.support.org import Org


async def test_a_fan_out_mixing_questions_and_notices_keeps_each_prompt(
    engine: Engine, org: Org
) -> None:
    asker = Outgoing(text="Doe je mee?", choices=(Choice("Ja", "x:1"), Choice("Nee", "x:2")))
    notice = Outgoing(text="Ter info")
    keys = ["emp0", "emp1", "emp2"]

    def build(person: Person) -> Outgoing:
        return notice if person.id == org.people["emp1"].id else asker

    async with engine.db.transaction() as session:
        queued = await engine.services(session).notify_many(
            [org.people[k].id for k in keys], build, prompt=True
        )
    assert queued == 3
    async with engine.db.transaction(read_only=True) as session:
        rows = (await session.execute(select(OutboxMessage))).scalars().all()
    prompts = {r.person_id: r.prompt for r in rows}
    choices = [["Ja", "x:1"], ["Nee", "x:2"]]
    assert prompts[org.people["emp0"].id]["choices"] == choices
    assert prompts[org.people["emp2"].id]["choices"] == choices
    assert prompts[org.people["emp1"].id] is None


async def test_a_fan_out_to_hundreds_queues_one_row_each_with_its_language(
    engine: Engine,
) -> None:
    """600 people in two chunks, each chunk inserted in one go (COPY on PostgreSQL, from 100
    rows): every row carries the payload of its reader's language, the prompt, the model's
    defaults and the address storage/reach.py picks; the forgotten get nothing."""
    async with engine.db.transaction() as session:
        people = [
            Person(name=f"Lid {i}", email=f"lid{i}@example.org", language="en" if i % 3 else "nl")
            for i in range(600)
        ]
        session.add_all(people)
        await session.flush()
        for p in people[::2]:  # half wrote on WhatsApp once; the others get a mailbox
            session.add(ChannelAccount(channel="whatsapp", platform_id=f"+3160{p.id:07d}",
                                       person_id=p.id, last_inbound_at=utcnow()))  # fmt: skip
        people[7].forgotten_at = utcnow()
        ids = [p.id for p in people]
    texts = {"nl": "Doe je mee?", "en": "Will you join?"}

    def make(language: str) -> Outgoing:
        return Outgoing(text=texts[language], choices=(Choice("1", "poll:9:vote:1"),))

    async with engine.db.transaction() as session:
        queued = await engine.services(session).notify_many(ids, per_language(make), prompt=True)
    assert queued == 599
    async with engine.db.transaction(read_only=True) as session:
        rows = (await session.execute(select(OutboxMessage))).scalars().all()
    by_person = {p.id: p for p in people}
    assert sorted(r.person_id for r in rows) == sorted(set(ids) - {people[7].id})
    for row in rows:
        person = by_person[row.person_id]
        assert row.payload is not None and row.payload["text"] == texts[person.language]
        assert (row.status, row.attempts, row.about_kind, row.about_id) == ("pending", 0, "poll", 9)
        assert row.prompt == {"choices": [["1", "poll:9:vote:1"]], "multiple": False}
        if (ids.index(person.id)) % 2 == 0:
            assert (row.channel, row.account) == ("whatsapp", f"+3160{person.id:07d}")
        else:
            assert (row.channel, row.account) == ("console", person.email)
