"""The bulk roster import (bot/roster.py on storage/roster.py) keeps the one-at-a-time rules:
upsert by e-mail, a phone held by someone else at that point of the list is refused, roles as
the file says, forgotten people stay forgotten, only what changed is written."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

import storage.roster
from bot.roster import ImportReport, RosterInvalid, check_roster, import_roster
from storage.db import Database
from storage.model_base import utcnow
from storage.models import AuditEntry, Person, Role
from storage.people import People

HEAD = "name,email,phone,department,location,language,roles\n"
GOOD = HEAD + (
    "Anna de Vries,anna@example.org,+31 6 1234 5678,Productie,Eindhoven,nl,or_member\n"
    "Bob Jansen,BOB@example.org,,Logistiek,Tilburg,en,\n"
    "Chris Smit,chris@example.org,+31612340000,Productie,Eindhoven,,moderator;admin\n"
)


async def run(
    db: Database, text: str, *, skip_invalid: bool = False
) -> tuple[ImportReport, list[tuple[int, int]]]:
    """The import and what its progress said (done, total) per batch."""
    said: list[tuple[int, int]] = []
    async with db.transaction() as session:
        report = await import_roster(
            session,
            check_roster(text),
            skip_invalid=skip_invalid,
            progress=lambda done, total: said.append((done, total)),
        )
    return report, said


async def snapshot(db: Database) -> dict[str, Any]:
    async with db.transaction(read_only=True) as session:
        people = (await session.execute(select(Person).order_by(Person.id))).scalars().all()
        roles = (await session.execute(select(Role.person_id, Role.role))).all()
    by_id = {p.id: p.email for p in people}
    return {
        p.email or f"#{p.id}": (p.id, p.name, p.phone, p.department, p.location, p.language)
        for p in people
    } | {"roles": sorted((by_id[i], r) for i, r in roles)}


async def test_a_second_import_of_the_same_file_changes_nothing(db: Database) -> None:
    first, _ = await run(db, GOOD)
    assert (first.created, first.updated, first.skipped) == (3, 0, 0)
    before = await snapshot(db)
    again, said = await run(db, GOOD)
    assert (again.created, again.updated, again.skipped) == (0, 3, 0)
    assert said == []  # nothing to write, not one UPDATE
    assert await snapshot(db) == before
    async with db.transaction(read_only=True) as session:
        details = (
            (await session.execute(select(AuditEntry.details).order_by(AuditEntry.id)))
            .scalars()
            .all()
        )
    assert details == [
        {"created": 3, "updated": 0, "skipped": 0},
        {"created": 0, "updated": 3, "skipped": 0},
    ]


async def test_a_changed_phone_department_and_role_are_applied(db: Database) -> None:
    await run(db, GOOD)
    before = await snapshot(db)
    changed = (
        GOOD.replace("+31 6 1234 5678,Productie", "+31 6 9999 0000,Productie")
        .replace("Logistiek,Tilburg,en,", "Kantoor,Tilburg,en,moderator")
        .replace("moderator;admin", "or_member")
    )
    report, said = await run(db, changed)
    assert (report.created, report.updated) == (0, 3)
    after = await snapshot(db)
    assert after["anna@example.org"][2] == "+31699990000"
    assert after["bob@example.org"][3] == "Kantoor"
    assert after["roles"] == [
        ("anna@example.org", "or_member"),
        ("bob@example.org", "moderator"),
        ("chris@example.org", "or_member"),
    ]
    assert after["chris@example.org"] == before["chris@example.org"]  # same id, same data
    # two people updated, one role added twice, two removed
    assert said[-1] == (2 + 2 + 2, 2 + 2 + 2)


async def test_a_phone_someone_else_holds_is_refused_and_nothing_is_written(
    db: Database,
) -> None:
    await run(db, GOOD)
    before = await snapshot(db)
    chris = GOOD.splitlines(keepends=True)[3]
    taken = GOOD.replace(chris, "Dora,dora@example.org,+31612340000,X,Y,nl,\n")  # Chris's
    with pytest.raises(RosterInvalid) as refused:
        await run(db, taken)
    assert [line for line, _ in refused.value.errors] == [4]
    assert "+31612340000 belongs to another person" in refused.value.errors[0][1]
    assert await snapshot(db) == before
    report, _ = await run(db, taken, skip_invalid=True)
    assert (report.created, report.updated, report.skipped) == (0, 2, 1)


async def test_phones_move_in_list_order(db: Database) -> None:
    """Anna gives up her number on line 2 and Dora (new) takes it on line 5: allowed, as
    one at a time it was free by then. Bob and Chris swap: each is held by the other at that
    point of the list, so both are refused."""
    await run(db, GOOD.replace("BOB@example.org,,", "BOB@example.org,+31612341111,"))
    moved = HEAD + (
        "Anna de Vries,anna@example.org,,Productie,Eindhoven,nl,or_member\n"
        "Bob Jansen,bob@example.org,+31612340000,Logistiek,Tilburg,en,\n"
        "Chris Smit,chris@example.org,+31612341111,Productie,Eindhoven,,admin\n"
        "Dora,dora@example.org,+31612345678,X,Y,nl,\n"
    )
    report, _ = await run(db, moved, skip_invalid=True)
    assert [line for line, _ in report.errors] == [3, 4]
    after = await snapshot(db)
    assert after["anna@example.org"][2] is None
    assert after["dora@example.org"][2] == "+31612345678"
    assert after["bob@example.org"][2] == "+31612341111"  # unchanged, refused
    assert ("chris@example.org", "moderator") in after["roles"]  # refused lines change nothing


async def test_a_forgotten_person_is_not_revived(db: Database) -> None:
    await run(db, GOOD)
    async with db.transaction() as session:
        people = People(session)
        bob = await people.by_email("bob@example.org")
        assert bob is not None
        await people.forget(bob, now=utcnow())
    report, _ = await run(db, GOOD)
    assert (report.created, report.updated) == (1, 2)
    after = await snapshot(db)
    assert after[f"#{bob.id}"][1] == "—"  # still forgotten, the new Bob is another row
    assert after["bob@example.org"][0] != bob.id


async def test_many_batches_keep_the_new_ids_in_order(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage.roster, "BATCH", 3)
    rows = [f"P{i},p{i}@example.org,+316200000{i:02d},D{i % 3},L,nl,or_member" for i in range(10)]
    report, said = await run(db, HEAD + "\n".join(rows) + "\n")
    assert report.created == 10
    assert said[-1] == (20, 20) and len(said) == 8  # 4 batches of people, 4 of roles
    after = await snapshot(db)
    assert [after[f"p{i}@example.org"][1:3] for i in range(10)] == [
        (f"P{i}", f"+316200000{i:02d}") for i in range(10)
    ]
    assert len(after["roles"]) == 10


async def test_a_person_this_session_holds_sees_the_import(db: Database) -> None:
    await run(db, GOOD)
    async with db.transaction() as session:
        anna = await People(session).by_email("anna@example.org")
        assert anna is not None
        await import_roster(session, check_roster(GOOD.replace("Eindhoven,nl", "Venlo,nl")))
        assert anna.location == "Venlo"
