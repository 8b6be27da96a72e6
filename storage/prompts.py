"""The most recent question with choices sent to a person (see OutboxMessage.prompt)."""

from __future__ import annotations

from typing import Any

from storage.models import OutboxMessage
from storage.raw import Query
from storage.unit import Store, raw

_LATEST = Query(
    "SELECT prompt FROM outbox WHERE person_id = $1 AND prompt IS NOT NULL "
    "ORDER BY id DESC LIMIT 1",
    params=(None,),
    columns=(OutboxMessage.__table__.c.prompt.type,),
)


async def latest_prompt(store: Store, person_id: int) -> dict[str, Any] | None:
    row = await (await raw(store)).fetchrow(_LATEST, person_id)
    return None if row is None else row[0]
