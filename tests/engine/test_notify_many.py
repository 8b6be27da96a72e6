"""`Services.notify_many`: one fan-out may mix messages that ask something with messages that
do not; each row keeps its own prompt (or none) — on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from bot.engine import Engine
from bot.messages import Choice, Outgoing
from storage.models import OutboxMessage, Person
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
