"""The outbox: every message to send is a row, written in the same transaction as the change
that caused it, so nothing is lost between commit and send.

A row's status says who holds it and what may have happened on the platform:

    pending ──claim──> claimed ──start──> sending ──> sent | held | failed
       ^                  │                 │
       └──── release ─────┘ <── retry ──────┘

`claimed`: a worker holds it and has sent nothing. `sending`: a request may have reached the
platform. A worker that dies leaves its rows behind; after the lease another worker takes
them over. A `claimed` row is then simply sent; a `sending` row is *in doubt* and is first
looked up on the platform where that is possible (bot/delivery.py). Every write of a worker is
fenced by the `claimed_at` it wrote last, so a row taken over by another worker is never
written (or sent) by the first one again.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.messages import Outgoing
from storage.db import Database
from storage.models import OutboxMessage, utcnow

PENDING, CLAIMED, SENDING = "pending", "claimed", "sending"
SENT, FAILED, HELD = "sent", "failed", "held"
# Not delivered yet: what counts as "queued" anywhere (stats, metrics, cancel).
UNDELIVERED = (PENDING, CLAIMED, SENDING)


def outbox_row(
    channel: str, account: str, person_id: int | None, outgoing: Outgoing
) -> dict[str, Any]:
    return {
        "channel": channel,
        "account": account,
        "person_id": person_id,
        "payload": _payload(outgoing),
        "purpose": str(outgoing.purpose),
    }


def _payload(outgoing: Outgoing) -> dict[str, Any]:
    return dict(json.loads(outgoing.to_json()))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one claimed row, written by `Outbox.finish_many`.

    kind: sent | held | retry | failed | release (given back unsent; the attempt does not
    count) | doubt (still in doubt: look it up again at `at`).
    `token` is the row's claimed_at as this worker last wrote it (the fence).
    """

    kind: str
    row_id: int
    token: datetime
    at: datetime | None = None
    platform_message_id: str | None = None
    error: str | None = None


class Outbox:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        channel: str,
        account: str,
        person_id: int | None,
        outgoing: Outgoing,
        *,
        prompt: dict[str, Any] | None = None,
        recipient_ref: dict[str, Any] | None = None,
    ) -> None:
        row = outbox_row(channel, account, person_id, outgoing)
        self.session.add(OutboxMessage(**row, prompt=prompt, recipient_ref=recipient_ref))

    async def add_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Bulk insert (executemany) for fan-out to many people."""
        if rows:
            await self.session.execute(insert(OutboxMessage), list(rows))

    async def claim(
        self,
        channels: Sequence[str],
        *,
        now: datetime,
        limit: int,
        lease: timedelta,
        accounts: Sequence[str] | None = None,
    ) -> list[OutboxMessage]:
        """Claim due rows for sending; concurrent workers never get the same row.

        PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED, then UPDATE those rows. SQLite: the
        transaction holds the write lock (BEGIN IMMEDIATE), so claims are serialised anyway.
        Rows a dead worker held
        come back after `lease`; those it was sending stay `sending` (in doubt). A row waits
        while an older row to the same person is held by a worker, so one person's messages
        go out in order.
        """
        row = OutboxMessage
        expired = now - lease
        due = or_(
            (row.status == PENDING) & (row.next_attempt_at <= now),
            row.status.in_((CLAIMED, SENDING)) & (row.claimed_at < expired),
        )
        older = aliased(OutboxMessage)
        held_before = exists().where(
            older.channel == row.channel,
            older.account == row.account,
            older.id < row.id,
            older.status.in_((CLAIMED, SENDING)),
            older.claimed_at >= expired,
        )
        pick = select(row.id).where(row.channel.in_(channels), due, ~held_before)
        if accounts is not None:
            pick = pick.where(row.account.in_(accounts))
        pick = pick.order_by(row.id).limit(limit).with_for_update(of=row, skip_locked=True)
        # Two statements: when nothing is due no UPDATE runs, so the outbox trigger's NOTIFY
        # (PostgreSQL) does not wake every worker for a claim that found nothing.
        ids = list((await self.session.execute(pick)).scalars())
        if not ids:
            return []
        stmt = (
            update(row)
            .where(row.id.in_(ids))
            .values(
                status=case((row.status == SENDING, SENDING), else_=CLAIMED),
                claimed_at=now,
                attempts=row.attempts + 1,
            )
            .returning(row)
            .execution_options(synchronize_session=False)
        )
        rows = list((await self.session.execute(stmt)).scalars())
        rows.sort(key=lambda r: r.id)
        return rows

    async def start_sending(
        self, claims: Sequence[tuple[int, datetime]], *, now: datetime
    ) -> set[int]:
        """Mark claimed rows `sending` just before their send; returns the ids marked.

        A row is marked only if it is still this worker's claim (status claimed, claimed_at
        as claimed): one taken over by another worker, or withdrawn, is not sent.
        `next_attempt_at` becomes the time the send started, from which a later lookup
        searches the platform.
        """
        by_token: dict[datetime, list[int]] = defaultdict(list)
        for row_id, token in claims:
            by_token[token].append(row_id)
        marked: set[int] = set()
        table = cast(Table, OutboxMessage.__table__)
        for token, ids in by_token.items():
            stmt = (
                update(table)
                .where(table.c.id.in_(ids), table.c.status == CLAIMED, table.c.claimed_at == token)
                .values(status=SENDING, claimed_at=now, next_attempt_at=now)
                .returning(table.c.id)
            )
            marked.update((await self.session.execute(stmt)).scalars())
        return marked

    async def finish_many(
        self, outcomes: Sequence[Outcome], *, now: datetime, lease: timedelta
    ) -> None:
        """Record what became of claimed rows: one executemany per kind, each fenced by the
        row's claim token (a row another worker took over is left alone)."""
        by_kind: dict[str, list[Outcome]] = defaultdict(list)
        for outcome in outcomes:
            by_kind[outcome.kind].append(outcome)
        table = cast(Table, OutboxMessage.__table__)
        for kind, items in by_kind.items():
            values, names = _FINISH[kind]
            stmt = (
                update(table)
                .where(table.c.id == bindparam("b_id"), table.c.claimed_at == bindparam("b_tok"))
                .values(**values)
            )
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
            await self.session.execute(stmt, params)

    async def release_held(self, channel: str, account: str, *, now: datetime) -> None:
        """The person wrote: held messages to them go out now."""
        await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status == HELD,
                OutboxMessage.channel == channel,
                OutboxMessage.account == account,
            )
            .values(status=PENDING, next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )

    async def depth(self) -> dict[str, int]:
        """Undelivered rows per channel (for /metrics)."""
        stmt = (
            select(OutboxMessage.channel, func.count())
            .where(OutboxMessage.status.in_(UNDELIVERED))
            .group_by(OutboxMessage.channel)
        )
        return {channel: n for channel, n in await self.session.execute(stmt)}


def _finish_table() -> dict[str, tuple[dict[str, Any], tuple[str, ...]]]:
    """Per outcome kind: the columns it sets and the parameters it binds."""
    c = OutboxMessage.__table__.c
    at = bindparam("b_at", type_=c.sent_at.type)
    pmid = bindparam("b_pmid", type_=c.platform_message_id.type)
    error = bindparam("b_error", type_=c.last_error.type)
    return {
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


_FINISH = _finish_table()


class OutboxWriter:
    """Group commit for one worker: the marks and results of many concurrent sends share a
    transaction (the next one starts as soon as the previous commits), so a busy worker
    commits once per group rather than twice per message, and an idle one without delay."""

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
        """Mark the row `sending`; returns its new claim token, or None when it is no
        longer this worker's to send."""
        future: asyncio.Future[datetime | None] = asyncio.get_running_loop().create_future()
        self._starts.append((row_id, token, future))
        self._kick()
        return await future

    async def finish(self, outcome: Outcome) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._outcomes.append((outcome, future))
        self._kick()
        await future

    def _kick(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        while self._starts or self._outcomes:
            starts, self._starts = self._starts, []
            outcomes, self._outcomes = self._outcomes, []
            now = self.clock()
            try:
                async with self.db.transaction() as session:
                    outbox = Outbox(session)
                    marked = await outbox.start_sending([(i, t) for i, t, _ in starts], now=now)
                    await outbox.finish_many([o for o, _ in outcomes], now=now, lease=self.lease)
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
