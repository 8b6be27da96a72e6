"""The delivery worker's outbox on PostgreSQL (`DeliveryOutbox`, storage/outbox.py).

Every statement here runs on the driver connection (asyncpg, `Database.driver()`), not
through SQLAlchemy, and each bypasses the ORM for the same measured reason: a worker
delivering at the platforms' limits was bound by its own CPU, and through SQLAlchemy a
statement costs some 0.2 ms of it (cache key, execution context, greenlet switches) where
asyncpg's prepared statement costs a tenth; a group commit needed four round trips (BEGIN,
marks, results, COMMIT) where `FLUSH` is one. Values pass as asyncpg has them: the time
columns are timestamptz (aware datetimes either way), and JSON is decoded by the codec
SQLAlchemy's adapter installed on the connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime, timedelta

from storage.db import Database
from storage.outbox import CLAIM_WINDOW_EXTRA, Claim, RowOutcome, claimed

_COLUMNS = ", ".join(f"o.{f.name}" for f in fields(Claim) if f.name != "recipient")
_ACCOUNT = "(SELECT a.{} FROM channel_accounts a WHERE a.channel = o.channel AND a.platform_id = o.account)"  # noqa: E501

# The due rows of some channels (and accounts), in id order, locked; rows another worker is
# claiming are skipped, not waited for. The status list is the partial index
# ix_outbox_undelivered's condition: the scan in id order reads rows to deliver, not the sent
# history (1.2 s per claim over 1,000,000 sent rows without it). One prepared statement
# whatever the number of channels or accounts (`= ANY($n)`, where `IN (…)` is a new statement
# per count).
PICK = """
SELECT id, channel, account FROM outbox
WHERE channel = ANY($1::text[]) AND status IN ('pending', 'claimed', 'sending')
  AND ((status = 'pending' AND next_attempt_at <= $2)
       OR (status IN ('claimed', 'sending') AND claimed_at < $3))
  AND id > $4 AND ($6::text[] IS NULL OR account = ANY($6::text[]))
ORDER BY id LIMIT $5
FOR UPDATE SKIP LOCKED
"""
# Of the people picked, those with a row held by a worker: the oldest such row. Asked apart
# from PICK: a NOT EXISTS per due row is planned as a nested loop whenever the statistics
# miss a fan-out just queued (seconds per claim).
HELD = """
SELECT channel, account, min(id) FROM outbox
WHERE channel = ANY($1::text[]) AND status IN ('claimed', 'sending') AND claimed_at >= $2
  AND account = ANY($3::text[])
GROUP BY channel, account
"""
# The claim itself, returning the row and the recipient's delivery context in one statement.
CLAIM = f"""
UPDATE outbox AS o
SET status = CASE WHEN o.status = 'sending' THEN 'sending' ELSE 'claimed' END,
    claimed_at = $2, claimed_by = $3, attempts = o.attempts + 1
WHERE o.id = ANY($1::bigint[])
RETURNING {_COLUMNS}, {_ACCOUNT.format("id")}, {_ACCOUNT.format("conversation_ref")},
          {_ACCOUNT.format("last_inbound_at")}
"""
# A group commit in one statement, so in its own transaction without BEGIN and COMMIT: the
# marks ($1 now; ids, tokens) and the results of every kind (ids, tokens, kinds, at, platform
# ids, errors, the claimed_at of a row left in doubt), with a CASE per column doing what
# `DeliveryOutbox.write` says each kind does.
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


class PostgresOutbox:
    """`DeliveryOutbox` on PostgreSQL: row locks (SKIP LOCKED) let many worker processes
    claim side by side; each call is one connection of `db`'s pool."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(
        self,
        channels: Sequence[str],
        *,
        now: datetime,
        limit: int,
        lease: timedelta,
        accounts: Sequence[str] | None = None,
        worker: str | None = None,
    ) -> list[Claim]:
        """See `DeliveryOutbox.claim`: PICK and HELD until enough rows are found (reading on
        when a window is all people waiting), then CLAIM, in one transaction."""
        expired = now - lease
        window = limit + CLAIM_WINDOW_EXTRA
        wanted = list(channels)
        only = list(accounts) if accounts is not None else None
        async with self.db.driver() as conn, conn.transaction():
            ids: list[int] = []
            after = 0
            while len(ids) < limit:
                found = await conn.fetch(PICK, wanted, now, expired, after, window, only)
                if not found:
                    break
                people = list({r[2] for r in found})
                first_held = {
                    (c, a): i for c, a, i in await conn.fetch(HELD, wanted, expired, people)
                }
                ids += [i for i, c, a in found if first_held.get((c, a), i) >= i]
                if len(found) < window:
                    break
                after = found[-1][0]
            if not ids:
                return []
            return claimed(await conn.fetch(CLAIM, ids[:limit], now, worker))

    async def write(
        self,
        marks: Sequence[tuple[int, datetime]],
        outcomes: Sequence[RowOutcome],
        *,
        now: datetime,
        lease: timedelta,
    ) -> set[int]:
        """See `DeliveryOutbox.write`: FLUSH, one round trip."""
        if not marks and not outcomes:
            return set()
        at = [o.at or now for o in outcomes]
        async with self.db.driver() as conn:
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
