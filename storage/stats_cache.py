"""Figures of closed items, stored once (issue 15: `achterban stats` under 2 s at 1,000,000
ballots; counting every item live took 3.6 s, nearly all of it closed polls).

What a closed item's figures (per dimension group: storage.stats.margins) depend on, and why
each is safe:
- its ballots, participations, answers and nominations: refused once it is closed;
- its outbox rows: a row still pending, claimed, sending or held can still become reached or
  fail (held ones expire to failed), so an item with such a row is not stored; the others
  only change when a platform reports a failed message delivered after all;
- the people's department and location (joined at read time, and changed by a roster import
  or `person forget`, which also deletes their outbox rows).
The last two go into a stamp; cells stored under another stamp are stale and recounted.
Broadcasts are always counted live: replies and reactions have no end.
Only the whole history (no --since) is stored: --since also cuts an item's messages.

A report only reads (it may run in a read-only transaction, on a read replica): what it
finds worth keeping is a `Pending`, written afterwards by `keep` in a write transaction on
the primary. Nothing goes wrong when that write lands late or twice: cells carry the stamp
they were counted under, and readers take one batch per item.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import Executable

from bot.errors import StoreUnavailable, Unstorable
from storage.db import Database
from storage.models import OutboxMessage, Person
from storage.stats_cache_models import StatsCell
from storage.stats_sql import Cell

Key = tuple[str, int]
CACHED_KINDS = ("poll", "question", "campaign")
UNSETTLED = ("pending", "claimed", "sending", "held")
# In every stamp: rows stored in another format (before: one per channel x department x
# location cell; now storage.stats.margins) are stale, so dropped and counted again.
FORMAT = b"margins 2"
log = logging.getLogger(__name__)


@dataclass
class Pending:
    """What one report found to keep: the cells of closed, settled items counted live, under
    the stamp they were counted with, and whether rows under other stamps were seen."""

    stamp: str = ""
    cells: dict[Key, list[Cell]] = field(default_factory=dict)
    stale: bool = False

    def __bool__(self) -> bool:
        return bool(self.stamp) and (self.stale or bool(self.cells))


async def stamp(session: AsyncSession) -> str:
    """A digest of what closed items' figures depend on outside their own rows."""
    digest = hashlib.sha256(FORMAT)
    people = select(Person.id, Person.department, Person.location, Person.forgotten_at)
    for row in await session.execute(people.order_by(Person.id)):
        digest.update(repr(tuple(row)).encode())
    o = OutboxMessage
    late = select(func.count(), func.max(o.delivery_updated_at)).where(
        o.status == "failed", o.delivery_status.is_not(None)
    )
    digest.update(repr(tuple((await session.execute(late)).one())).encode())
    return digest.hexdigest()


async def load(
    session: AsyncSession, keys: set[Key], current: str, pending: Pending
) -> dict[Key, list[Cell]]:
    """The stored cells of these items under the current stamp; stale rows are noted in
    `pending` (dropped by `keep`)."""
    if not keys:
        return {}
    s = StatsCell
    batches: dict[Key, dict[str, list[Cell]]] = defaultdict(lambda: defaultdict(list))
    stale = False
    stmt = select(s.kind, s.item, s.stamp, s.batch, s.channel, s.department, s.location,
                  s.reach, s.responses)  # fmt: skip
    for (
        kind,
        item,
        row_stamp,
        batch,
        channel,
        department,
        location,
        reach,
        responses,
    ) in await session.execute(stmt):
        if row_stamp != current:
            stale = True
        elif (kind, item) in keys:
            cell = Cell(channel, department, location, reach, responses)
            batches[kind, item][batch].append(cell)
    pending.stale = pending.stale or stale
    out: dict[Key, list[Cell]] = {}
    for key, by_batch in batches.items():
        out[key] = [c for c in by_batch[min(by_batch)] if c.reach > 0]
    return out


async def settled(session: AsyncSession, keys: set[Key]) -> set[Key]:
    """The items none of whose messages can still change state."""
    o = OutboxMessage
    stmt = (
        select(o.about_kind, o.about_id)
        .where(o.status.in_(UNSETTLED), o.about_kind.is_not(None))
        .distinct()
    )
    busy = {(kind, item) for kind, item in await session.execute(stmt)}
    return keys - busy


async def keep(session: AsyncSession, pending: Pending) -> None:
    """Writes what a report found, in the caller's write transaction: stale rows dropped, the
    new cells stored (an item without any gets one empty row, so that it is known); nothing
    when the stamp here is no longer the one the report counted under."""
    if not pending:
        return
    if await stamp(session) != pending.stamp:
        # Counted from another state than the primary's now (a replica that lags, or people
        # changed meanwhile): storing it would only make the next report recount.
        return
    s = StatsCell
    if pending.stale:
        await _quietly(session, delete(s).where(s.stamp != pending.stamp))
    rows: list[dict[str, object]] = []
    for (kind, item), item_cells in pending.cells.items():
        batch = uuid.uuid4().hex
        empty = [Cell(None, None, None, 0, 0)]
        for c in item_cells or empty:
            rows.append(
                {
                    "kind": kind,
                    "item": item,
                    "stamp": pending.stamp,
                    "batch": batch,
                    "channel": c.channel,
                    "department": c.department,
                    "location": c.location,
                    "reach": c.reach,
                    "responses": c.responses,
                }
            )
    if rows:
        await _quietly(session, insert(s), rows)


async def keep_in(db: Database, pending: Pending) -> None:
    """`keep` in a write transaction of its own (after a read-only report). A failure is
    logged, not raised: the report is already made, and the next one counts again."""
    if not pending:
        return
    try:
        async with db.transaction() as session:
            await keep(session, pending)
    except (StoreUnavailable, Unstorable) as exc:
        log.warning("stats cache not stored: %s", type(exc).__name__)


async def _quietly(
    session: AsyncSession, stmt: Executable, rows: list[dict[str, object]] | None = None
) -> None:
    """A cache write that fails must not fail what it rides along with (a colleague's chat
    message): it is undone alone and tried again next time."""
    try:
        async with session.begin_nested():
            if rows is None:
                await session.execute(stmt)
            else:
                await session.execute(stmt, rows)
    except DBAPIError as exc:
        log.warning("stats cache not stored: %s", type(exc).__name__)
