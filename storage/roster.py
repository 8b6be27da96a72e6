"""Bulk reads and writes for a roster import: a staff list of 100,000 people in seconds.

A person at a time cost about fourteen statements each (look up by e-mail and phone, flush,
replace the roles): five minutes for a group works council. Here the people are read once,
the caller decides in memory what changes, and the writes go in batches (executemany, and
multi-row INSERT … RETURNING) inside the caller's one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Table, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from storage.models import Person, Role

BATCH = 1000
T = TypeVar("T")
FIELDS = ("name", "phone", "department", "location", "language")
_PEOPLE: Table = Person.__table__  # type: ignore[assignment]
_ROLES: Table = Role.__table__  # type: ignore[assignment]


@dataclass(slots=True, eq=False)
class Known:
    """A person as the import sees them; `id` is None until a new one is inserted."""

    id: int | None
    email: str | None
    name: str
    phone: str | None
    department: str | None
    location: str | None
    language: str
    roles: set[str] = field(default_factory=set)

    def values(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in FIELDS}


@dataclass(slots=True)
class Changes:
    """What an import writes, in the order it must be written (see write_changes)."""

    updated: list[Known] = field(default_factory=list)
    created: list[Known] = field(default_factory=list)
    roles_added: list[tuple[Known, str]] = field(default_factory=list)
    roles_removed: list[tuple[int, str]] = field(default_factory=list)

    def size(self) -> int:
        parts = (self.updated, self.created, self.roles_added, self.roles_removed)
        return sum(len(p) for p in parts)


async def known_people(session: AsyncSession) -> list[Known]:
    """Everyone an e-mail or phone on the list could match, with their roles, in two queries.

    Forgotten people have neither (storage/people.py forget), so they are not read and a
    list with their old address makes a new person, as before."""
    rows = await session.execute(
        select(
            Person.id,
            func.lower(Person.email),
            Person.name,
            Person.phone,
            Person.department,
            Person.location,
            Person.language,
        )
        .where(or_(Person.email.is_not(None), Person.phone.is_not(None)))
        .order_by(Person.id)
    )
    people = {row[0]: Known(*row) for row in rows}
    for person_id, role in await session.execute(select(Role.person_id, Role.role)):
        if (known := people.get(person_id)) is not None:
            known.roles.add(role)
    return list(people.values())


async def write_changes(
    session: AsyncSession, changes: Changes, advance: Callable[[int], None] | None = None
) -> None:
    """Write in an order that never breaks the unique phone: updates in list order first
    (each one's phone was free when the list reached it, and no new person holds one yet),
    then the new people, then roles (which need the new ids)."""
    tick = advance or (lambda _n: None)
    await _update_people(session, changes.updated, tick)
    await _insert_people(session, changes.created, tick)
    removed: list[dict[str, object]] = [{"pid": p, "r": r} for p, r in changes.roles_removed]
    stmt = delete(_ROLES).where(
        _ROLES.c.person_id == bindparam("pid"), _ROLES.c.role == bindparam("r")
    )
    for batch in _batches(removed):
        await session.execute(stmt, batch)
        tick(len(batch))
    added: list[dict[str, object]] = [
        {"person_id": k.id, "role": r} for k, r in changes.roles_added
    ]
    for batch in _batches(added):
        await session.execute(insert(_ROLES), batch)
        tick(len(batch))


async def _update_people(
    session: AsyncSession, people: list[Known], tick: Callable[[int], None]
) -> None:
    stmt = (
        update(_PEOPLE)
        .where(_PEOPLE.c.id == bindparam("pid"))
        .values({f: bindparam(f"v_{f}") for f in FIELDS})
    )
    for batch in _batches(people):
        params = [{"pid": k.id} | {f"v_{f}": v for f, v in k.values().items()} for k in batch]
        await session.execute(stmt, params)
        tick(len(batch))
    _refresh_loaded(session, {k.id: k for k in people})


async def _insert_people(
    session: AsyncSession, people: list[Known], tick: Callable[[int], None]
) -> None:
    stmt = insert(_PEOPLE).returning(_PEOPLE.c.id, sort_by_parameter_order=True)
    for batch in _batches(people):
        params = [{"email": k.email} | k.values() for k in batch]
        ids = (await session.execute(stmt, params)).scalars().all()
        for known, new_id in zip(batch, ids, strict=True):
            known.id = new_id
        tick(len(batch))


def _refresh_loaded(session: AsyncSession, changed: dict[int | None, Known]) -> None:
    """Core writes bypass the ORM: a Person this session already holds (the dashboard's
    visitor, say) gets the new values, so nothing later reads or flushes stale ones."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Person) and (known := changed.get(obj.id)) is not None:
            for name, value in known.values().items():
                set_committed_value(obj, name, value)


def _batches(items: Sequence[T]) -> list[Sequence[T]]:
    return [items[k : k + BATCH] for k in range(0, len(items), BATCH)]
