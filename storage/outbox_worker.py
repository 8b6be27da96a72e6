"""What the delivery worker does to the outbox: claim rows, and write marks and results in
group commits.

Every `sending` mark and every result of one worker goes through its `OutboxWriter`: what
arrives while a group is being written waits for the next one, which starts as soon as the
previous commits. A busy worker thus commits once per group of many rows, not twice per
message, and an idle one without delay.

On PostgreSQL the claim and the group commit run on the driver connection (asyncpg), not
through SQLAlchemy: a statement there costs some 0.2 ms of CPU, a group commit needed four
round trips (BEGIN, marks, results, COMMIT), and the worker's ceiling was its CPU. Here a
group is one statement in its own transaction: the marks, and the results of every kind in
one UPDATE … FROM unnest(…) with a CASE per column. The semantics are those of `Outbox.claim`,
`start_sending` and `finish_many` (storage/outbox.py), which SQLite uses and which the tests
hold side by side with these.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any

from bot.messages import Recipient
from storage.db import Database
from storage.models import utcnow
from storage.outbox import CLAIM_WINDOW_EXTRA, Claim, Outbox, Outcome

_COLUMNS = ", ".join(f"o.{f.name}" for f in fields(Claim) if f.name != "recipient")
_ACCOUNT = "(SELECT a.{} FROM channel_accounts a WHERE a.channel = o.channel AND a.platform_id = o.account)"  # noqa: E501

PICK = """
SELECT id, channel, account FROM outbox
WHERE channel = ANY($1::text[])
  AND ((status = 'pending' AND next_attempt_at <= $2)
       OR (status IN ('claimed', 'sending') AND claimed_at < $3))
  AND id > $4 AND ($6::text[] IS NULL OR account = ANY($6::text[]))
ORDER BY id LIMIT $5
FOR UPDATE SKIP LOCKED
"""
HELD = """
SELECT channel, account, min(id) FROM outbox
WHERE channel = ANY($1::text[]) AND status IN ('claimed', 'sending') AND claimed_at >= $2
  AND account = ANY($3::text[])
GROUP BY channel, account
"""
CLAIM = f"""
UPDATE outbox AS o
SET status = CASE WHEN o.status = 'sending' THEN 'sending' ELSE 'claimed' END,
    claimed_at = $2, attempts = o.attempts + 1
WHERE o.id = ANY($1::bigint[])
RETURNING {_COLUMNS}, {_ACCOUNT.format("id")}, {_ACCOUNT.format("conversation_ref")},
          {_ACCOUNT.format("last_inbound_at")}
"""
# Marks ($1 now; ids, tokens) and results (ids, tokens, kinds, at, platform ids, errors, the
# claimed_at of a row left in doubt) — see storage/outbox.py `_finish_table` for each kind.
FLUSH = """
WITH marks AS (
    UPDATE outbox AS o SET status = 'sending', claimed_at = $1, next_attempt_at = $1
    FROM unnest($2::bigint[], $3::timestamptz[]) AS m(id, token)
    WHERE o.id = m.id AND o.claimed_at = m.token AND o.status IN ('claimed', 'sending')
    RETURNING o.id
), results AS (
    UPDATE outbox AS o SET
        status = CASE r.kind WHEN 'sent' THEN 'sent' WHEN 'held' THEN 'held'
                             WHEN 'failed' THEN 'failed' WHEN 'retry' THEN 'pending'
                             WHEN 'release' THEN 'pending' ELSE o.status END,
        sent_at = CASE WHEN r.kind IN ('sent', 'held') THEN r.at ELSE o.sent_at END,
        platform_message_id = CASE WHEN r.kind IN ('sent', 'held') THEN r.pmid
                                   ELSE o.platform_message_id END,
        last_error = CASE WHEN r.kind IN ('sent', 'held') THEN NULL
                          WHEN r.kind = 'release' THEN o.last_error ELSE r.error END,
        payload = CASE WHEN r.kind IN ('sent', 'failed') THEN NULL ELSE o.payload END,
        recipient_ref = CASE WHEN r.kind IN ('sent', 'failed') THEN NULL
                             ELSE o.recipient_ref END,
        next_attempt_at = CASE WHEN r.kind IN ('retry', 'release') THEN r.at
                               ELSE o.next_attempt_at END,
        attempts = CASE WHEN r.kind = 'release' THEN o.attempts - 1 ELSE o.attempts END,
        claimed_at = CASE WHEN r.kind = 'doubt' THEN r.until ELSE o.claimed_at END
    FROM unnest($4::bigint[], $5::timestamptz[], $6::text[], $7::timestamptz[], $8::text[],
                $9::text[], $10::timestamptz[]) AS r(id, token, kind, at, pmid, error, until)
    WHERE o.id = r.id AND o.claimed_at = r.token
)
SELECT id FROM marks
"""


@asynccontextmanager
async def driver(db: Database) -> AsyncIterator[Any]:
    """A pooled connection's asyncpg connection, outside any transaction of SQLAlchemy's.

    SQLAlchemy does not see the driver's errors: a connection that broke is invalidated
    here, or the pool would hand it out again."""
    async with db.engine.connect() as connection:
        conn: Any = (await connection.get_raw_connection()).driver_connection
        try:
            yield conn
        except BaseException:
            if conn.is_closed():
                await connection.invalidate()
            raise


async def claim(
    db: Database,
    channels: Sequence[str],
    *,
    now: datetime,
    limit: int,
    lease: timedelta,
    accounts: Sequence[str] | None = None,
) -> list[Claim]:
    """`Outbox.claim`: due rows for sending, in one transaction."""
    if db.is_sqlite:
        async with db.transaction() as session:
            return await Outbox(session).claim(
                channels, now=now, limit=limit, lease=lease, accounts=accounts
            )
    expired = now - lease
    window = limit + CLAIM_WINDOW_EXTRA
    wanted = list(channels)
    only = list(accounts) if accounts is not None else None
    async with driver(db) as conn, conn.transaction():
        ids: list[int] = []
        after = 0
        while len(ids) < limit:
            found = await conn.fetch(PICK, wanted, now, expired, after, window, only)
            if not found:
                break
            people = list({r[2] for r in found})
            first_held = {(c, a): i for c, a, i in await conn.fetch(HELD, wanted, expired, people)}
            ids += [i for i, c, a in found if first_held.get((c, a), i) >= i]
            if len(found) < window:
                break
            after = found[-1][0]
        if not ids:
            return []
        rows = []
        for *values, account_id, ref, last_inbound_at in await conn.fetch(CLAIM, ids[:limit], now):
            row = Claim(*values)
            if account_id is not None:
                row.recipient = Recipient(row.account, ref, last_inbound_at)
            rows.append(row)
    rows.sort(key=lambda r: r.id)
    return rows


async def flush(
    db: Database,
    marks: Sequence[tuple[int, datetime]],
    outcomes: Sequence[Outcome],
    *,
    now: datetime,
    lease: timedelta,
) -> set[int]:
    """Mark rows `sending` and record results, in one transaction; returns the ids marked
    (`Outbox.start_sending` and `Outbox.finish_many`)."""
    if db.is_sqlite:
        async with db.transaction() as session:
            outbox = Outbox(session)
            marked = await outbox.start_sending(marks, now=now)
            await outbox.finish_many(outcomes, now=now, lease=lease)
        return marked
    at = [o.at or now for o in outcomes]
    async with driver(db) as conn:
        found = await conn.fetch(
            FLUSH,
            now,
            [i for i, _ in marks],
            [t for _, t in marks],
            [o.row_id for o in outcomes],
            [o.token for o in outcomes],
            [o.kind for o in outcomes],
            at,
            [o.platform_message_id for o in outcomes],
            [(o.error or "")[:500] or None for o in outcomes],
            [when - lease for when in at],  # in doubt: the lease ends when it is due
        )
    return {r[0] for r in found}


class OutboxWriter:
    def __init__(
        self, db: Database, *, lease: timedelta, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.db = db
        self.lease = lease
        self.clock = clock
        self._starts: list[tuple[int, datetime, asyncio.Future[datetime | None]]] = []
        self._outcomes: list[tuple[Outcome, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def start_sending(self, row_id: int, token: datetime) -> datetime | None:
        """Mark the row `sending`, committed; returns its new claim token, or None when it
        is no longer this worker's to send."""
        future: asyncio.Future[datetime | None] = asyncio.get_running_loop().create_future()
        self._starts.append((row_id, token, future))
        self._kick()
        return await future

    async def finish(self, outcome: Outcome) -> None:
        """Record one result; returns once it is committed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._outcomes.append((outcome, future))
        self._kick()
        await future

    async def finish_all(self, outcomes: Sequence[Outcome]) -> None:
        if outcomes:
            await asyncio.gather(*(self.finish(o) for o in outcomes))

    def _kick(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        while self._starts or self._outcomes:
            starts, self._starts = self._starts, []
            outcomes, self._outcomes = self._outcomes, []
            now = self.clock()
            try:
                marked = await flush(
                    self.db,
                    [(i, t) for i, t, _ in starts],
                    [o for o, _ in outcomes],
                    now=now,
                    lease=self.lease,
                )
            except Exception as exc:  # the store failed: every waiter sees it
                for *_, future in starts:
                    _settle(future, exc)
                for _, done in outcomes:
                    _settle(done, exc)
                continue
            for row_id, _token, future in starts:
                _settle(future, None, now if row_id in marked else None)
            for _, done in outcomes:
                _settle(done, None, None)


def _settle(future: asyncio.Future[Any], exc: BaseException | None, value: Any = None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(value)
