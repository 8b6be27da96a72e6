"""The delivery worker's outbox on SQLite (`DeliveryOutbox`, storage/outbox.py).

Through SQLAlchemy Core in `Database.transaction()`: SQLite serves one process, whose worker
is not CPU-bound on the store, and its transaction starts with BEGIN IMMEDIATE (storage/db.py),
so claims are serialised by the write lock and no row lock is needed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Column,
    ScalarSelect,
    Table,
    Update,
    bindparam,
    case,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.models import UNDELIVERED_SQL, ChannelAccount, OutboxMessage
from storage.outbox import (
    CLAIM_WINDOW_EXTRA,
    CLAIMED,
    FAILED,
    HELD,
    PENDING,
    SENDING,
    SENT,
    Claim,
    RowOutcome,
    claimed,
)

OUTBOX = cast(Table, OutboxMessage.__table__)
_ACCOUNTS = cast(Table, ChannelAccount.__table__)


def _of_account(column: Column[Any]) -> ScalarSelect[Any]:
    """A column of the row's channel account (one probe of its unique index)."""
    account = _ACCOUNTS.c
    return (
        select(column)
        .where(account.channel == OUTBOX.c.channel, account.platform_id == OUTBOX.c.account)
        .scalar_subquery()
    )


# The row, and the recipient's delivery context read in the same statement.
_CLAIMED_COLUMNS = [
    *(OUTBOX.c[f.name] for f in fields(Claim) if f.name != "recipient"),
    _of_account(_ACCOUNTS.c.id),
    _of_account(_ACCOUNTS.c.conversation_ref),
    _of_account(_ACCOUNTS.c.last_inbound_at),
]


class SqliteOutbox:
    """`DeliveryOutbox` on SQLite: each call one transaction of `db`."""

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
        """See `DeliveryOutbox.claim`. Which of the people picked have a row held is asked
        separately, and their newer rows are passed by here (as on PostgreSQL, where a NOT
        EXISTS per due row was planned as a nested loop)."""
        async with self.db.transaction() as session:
            ids = await _pick(session, channels, now, limit, now - lease, accounts)
            if not ids:
                return []
            stmt = (
                update(OUTBOX)
                .where(OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
                .values(
                    status=case((OUTBOX.c.status == SENDING, SENDING), else_=CLAIMED),
                    claimed_at=now,
                    claimed_by=worker,
                    attempts=OUTBOX.c.attempts + 1,
                )
                .returning(*_CLAIMED_COLUMNS)
            )
            return claimed(await session.execute(stmt, {"ids": ids}))

    async def write(
        self,
        marks: Sequence[tuple[int, datetime]],
        outcomes: Sequence[RowOutcome],
        *,
        now: datetime,
        lease: timedelta,
    ) -> set[int]:
        """See `DeliveryOutbox.write`: the marks one statement per claim token (rows claimed
        together share one), the outcomes one executemany per kind."""
        if not marks and not outcomes:
            return set()
        async with self.db.transaction() as session:
            marked = await _mark(session, marks, now)
            await _finish(session, outcomes, now, lease)
        return marked


async def _pick(
    session: AsyncSession,
    channels: Sequence[str],
    now: datetime,
    limit: int,
    expired: datetime,
    accounts: Sequence[str] | None,
) -> list[int]:
    """The ids to claim: due rows in id order, less those of people with a row held."""
    t = OUTBOX
    due = or_(
        (t.c.status == PENDING) & (t.c.next_attempt_at <= now),
        t.c.status.in_((CLAIMED, SENDING)) & (t.c.claimed_at < expired),
    )
    window = limit + CLAIM_WINDOW_EXTRA
    # The status term is ix_outbox_undelivered's condition, word for word: SQLite uses a
    # partial index only then (and the scan skips the sent history).
    pick = select(t.c.id, t.c.channel, t.c.account).where(
        t.c.channel.in_(channels), UNDELIVERED_SQL, due, t.c.id > bindparam("after")
    )
    if accounts is not None:
        pick = pick.where(t.c.account.in_(accounts))
    pick = pick.order_by(t.c.id).limit(window)
    # Of the people picked, those with a row held: the oldest such row.
    held = (
        select(t.c.channel, t.c.account, func.min(t.c.id))
        .where(
            t.c.channel.in_(channels),
            t.c.status.in_((CLAIMED, SENDING)),
            t.c.claimed_at >= expired,
            t.c.account.in_(bindparam("accounts", expanding=True)),
        )
        .group_by(t.c.channel, t.c.account)
    )
    ids: list[int] = []
    after = 0
    while len(ids) < limit:
        found = (await session.execute(pick, {"after": after})).all()
        if not found:
            break
        people = list({a for _, _, a in found})
        first_held = {(c, a): i for c, a, i in await session.execute(held, {"accounts": people})}
        ids += [i for i, c, a in found if first_held.get((c, a), i) >= i]
        if len(found) < window:
            break
        after = found[-1][0]
    return ids[:limit]


async def _mark(
    session: AsyncSession, marks: Sequence[tuple[int, datetime]], now: datetime
) -> set[int]:
    by_token: dict[datetime, list[int]] = defaultdict(list)
    for row_id, token in marks:
        by_token[token].append(row_id)
    t = OUTBOX
    stmt = (
        update(t)
        .where(
            t.c.id.in_(bindparam("ids", expanding=True)),
            t.c.status.in_((CLAIMED, SENDING)),
            t.c.claimed_at == bindparam("token", type_=t.c.claimed_at.type),
        )
        .values(status=SENDING, claimed_at=now, next_attempt_at=now)
        .returning(t.c.id)
    )
    marked: set[int] = set()
    for token, ids in by_token.items():
        marked.update((await session.execute(stmt, {"ids": ids, "token": token})).scalars())
    return marked


async def _finish(
    session: AsyncSession, outcomes: Sequence[RowOutcome], now: datetime, lease: timedelta
) -> None:
    by_kind: dict[str, list[RowOutcome]] = defaultdict(list)
    for outcome in outcomes:
        by_kind[outcome.kind].append(outcome)
    for kind, items in by_kind.items():
        stmt, names = _FINISH[kind]
        params = []
        for o in items:
            given = {
                "b_at": o.at or now,
                "b_pmid": o.platform_message_id,
                "b_error": (o.error or "")[:500] or None,
                # In doubt: the lease runs out when the row is to be looked up again.
                "b_until": (o.at or now) - lease,
            }
            params.append({"b_id": o.row_id, "b_tok": o.token, **{n: given[n] for n in names}})
        await session.execute(stmt, params)


def _finish_table() -> dict[str, tuple[Update, tuple[str, ...]]]:
    """Per outcome kind: its statement (built once) and the parameters it binds."""
    c = OUTBOX.c
    at = bindparam("b_at", type_=c.sent_at.type)
    pmid = bindparam("b_pmid", type_=c.platform_message_id.type)
    error = bindparam("b_error", type_=c.last_error.type)
    sets: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
        # Message bodies do not outlive their delivery; a held one waits for the person.
        "sent": ({"status": SENT, "sent_at": at, "platform_message_id": pmid, "last_error": None,
                  "payload": None, "recipient_ref": None}, ("b_at", "b_pmid")),
        "held": ({"status": HELD, "sent_at": at, "platform_message_id": pmid,
                  "last_error": None}, ("b_at", "b_pmid")),
        "retry": ({"status": PENDING, "next_attempt_at": at, "last_error": error},
                  ("b_at", "b_error")),
        "failed": ({"status": FAILED, "last_error": error, "payload": None,
                    "recipient_ref": None}, ("b_error",)),
        "release": ({"status": PENDING, "next_attempt_at": at, "attempts": c.attempts - 1},
                    ("b_at",)),
        # Still in doubt: stays `sending`, next_attempt_at keeps when the send started.
        "doubt": ({"claimed_at": bindparam("b_until", type_=c.claimed_at.type),
                   "last_error": error}, ("b_until", "b_error")),
    }  # fmt: skip
    fenced = update(OUTBOX).where(
        c.id == bindparam("b_id"), c.claimed_at == bindparam("b_tok", type_=c.claimed_at.type)
    )
    return {kind: (fenced.values(**values), names) for kind, (values, names) in sets.items()}


_FINISH = _finish_table()
