"""A small organisation for engine and dialog tests, and helpers to talk as its people."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from bot.engine import Engine, Outcome
from bot.messages import Incoming, Outgoing, Profile
from storage.models import OutboxMessage, Person

_ids = itertools.count(1)


@dataclass
class Org:
    engine: Engine
    people: dict[str, Person] = field(default_factory=dict)
    roles: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    async def create(cls, engine: Engine, employees: int = 8) -> Org:
        """An OR member, a moderator and `employees` colleagues in two departments."""
        org = cls(engine)
        async with engine.db.transaction() as session:
            services = engine.services(session)

            def add(key: str, dept: str, lang: str = "nl", roles: set[str] | None = None) -> None:
                person = Person(
                    name=key.capitalize(),
                    email=f"{key}@example.org",
                    department=dept,
                    location="Eindhoven" if len(org.people) % 2 else "Tilburg",
                    language=lang,
                )
                session.add(person)
                org.people[key] = person
                org.roles[key] = roles or set()

            add("olga", "Kantoor", roles={"or_member"})
            add("mo", "Kantoor", roles={"moderator"})
            for i in range(employees):
                add(f"emp{i}", "Productie" if i % 2 == 0 else "Logistiek", "en" if i == 1 else "nl")
            await session.flush()
            for key, roles in org.roles.items():
                if roles:
                    await services.people.set_roles(org.people[key].id, roles)
        return org

    def incoming(
        self, key: str, text: str = "", *, choice: str | None = None, channel: str = "console",
        event_id: str | None = None, account: str | None = None,
    ) -> Incoming:  # fmt: skip
        email = f"{key}@example.org"
        return Incoming(
            channel=channel,
            event_id=event_id or f"evt-{next(_ids)}",
            account=account or email,
            text=text,
            choice=choice,
            profile=Profile(email=email),
        )

    async def say(self, key: str, text: str = "", **kwargs: Any) -> Outcome:
        return await self.engine.handle(self.incoming(key, text, **kwargs))

    async def outbox(self, key: str | None = None) -> list[Outgoing]:
        """Every message queued (not yet sent) to `key`, oldest first."""
        async with self.engine.db.transaction(read_only=True) as session:
            stmt = select(OutboxMessage).order_by(OutboxMessage.id)
            if key is not None:
                stmt = stmt.where(OutboxMessage.person_id == self.people[key].id)
            rows = (await session.execute(stmt)).scalars().all()
        sealer = self.engine.sealer  # as the delivery worker reads them
        return [Outgoing.from_json(sealer.open(r.payload)) for r in rows if r.payload is not None]

    async def last(self, key: str) -> Outgoing:
        messages = await self.outbox(key)
        assert messages, f"nothing was sent to {key}"
        return messages[-1]
