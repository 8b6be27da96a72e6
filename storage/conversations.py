"""Per-person conversation rows: dialog state, and the lock that serialises a person's events."""

from __future__ import annotations

from storage.models import Conversation, utcnow
from storage.raw import Query, Shape
from storage.unit import Store, adopt, raw

SHAPE = Shape.of(Conversation.__table__)  # type: ignore[arg-type]
_COLUMNS = Conversation.__table__.c
_LOCK = Query(
    "INSERT INTO conversations (person_id, dialog, state, updated_at) VALUES ($1, NULL, $2, $3) "
    "ON CONFLICT (person_id) DO UPDATE SET person_id = excluded.person_id "
    f"RETURNING {SHAPE.select_list}",
    params=(None, _COLUMNS.state.type, _COLUMNS.updated_at.type),
    columns=SHAPE.types,
)


async def lock_conversation(store: Store, person_id: int) -> Conversation:
    """The person's conversation, created if needed and locked until the transaction ends.

    One statement: INSERT … ON CONFLICT DO UPDATE … RETURNING. On PostgreSQL the conflicting
    update takes the row lock, so two events of one person never interleave, and RETURNING
    gives the row as the previous holder of the lock committed it; on SQLite the transaction
    already holds the database write lock (BEGIN IMMEDIATE). The row is in the session as an
    ORM object: dialog and state changes are flushed at commit (storage/unit.py).
    """
    sql = await raw(store)
    row = await sql.fetchrow(_LOCK, person_id, {}, utcnow())
    assert row is not None
    return adopt(store, Conversation, SHAPE.values(row))
