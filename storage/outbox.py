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

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Column,
    ColumnElement,
    ScalarSelect,
    Table,
    Update,
    any_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import Outgoing, Recipient
from storage.models import ChannelAccount, OutboxMessage
from storage.sql import is_postgres

PENDING, CLAIMED, SENDING = "pending", "claimed", "sending"
SENT, FAILED, HELD = "sent", "failed", "held"
# Not delivered yet: what counts as "queued" anywhere (stats, metrics, cancel).
UNDELIVERED = (PENDING, CLAIMED, SENDING)


def outbox_row(
    channel: str, account: str, person_id: int | None, outgoing: Outgoing, *, now: datetime
) -> dict[str, Any]:
    """An outbox row, due at `now`: the caller's clock, not the wall clock, so that a
    scheduler or test with its own time sees the row as due when it is."""
    return {
        "channel": channel,
        "account": account,
        "person_id": person_id,
        "payload": _payload(outgoing),
        "purpose": str(outgoing.purpose),
        "created_at": now,
        "next_attempt_at": now,
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


@dataclass(slots=True)
class Claim:
    """A claimed row as the worker holds it: plain values, read once, no ORM session.

    `status` is `claimed`, or `sending` when a worker died while sending it (in doubt);
    `claimed_at` is the claim token that fences this worker's writes. `recipient`: the
    delivery context of the channel account (None when there is none).
    """

    id: int
    channel: str
    account: str
    person_id: int | None
    payload: dict[str, Any] | None
    recipient_ref: dict[str, Any] | None
    status: str
    attempts: int
    next_attempt_at: datetime
    claimed_at: datetime
    created_at: datetime
    recipient: Recipient | None = None


# Rows looked at per claim beyond its limit: room for some of people waiting behind a held
# row (they are passed by); more are read when needed.
CLAIM_WINDOW_EXTRA = 32
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
        now: datetime,
        prompt: dict[str, Any] | None = None,
        recipient_ref: dict[str, Any] | None = None,
    ) -> None:
        row = outbox_row(channel, account, person_id, outgoing, now=now)
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
    ) -> list[Claim]:
        """Claim due rows for sending; concurrent workers never get the same row.

        PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED, then UPDATE those rows. SQLite: the
        transaction holds the write lock (BEGIN IMMEDIATE), so claims are serialised anyway.
        Rows a dead worker held come back after `lease`; those it was sending stay `sending`
        (in doubt). A row waits while an older row to the same person is held by a worker, so
        one person's messages go out in order.

        Which of the people picked have a row held is asked separately, and their newer
        rows are passed by here: a NOT EXISTS per due row in the pick is planned as a nested
        loop whenever the statistics miss a fan-out just queued (seconds per claim).
        """
        t = OUTBOX
        expired = now - lease
        due = or_(
            (t.c.status == PENDING) & (t.c.next_attempt_at <= now),
            t.c.status.in_((CLAIMED, SENDING)) & (t.c.claimed_at < expired),
        )
        pick = select(t.c.id, t.c.channel, t.c.account).where(
            t.c.channel.in_(channels), due, t.c.id > bindparam("after")
        )
        if accounts is not None:
            pick = pick.where(t.c.account.in_(accounts))
        window = limit + CLAIM_WINDOW_EXTRA
        pick = pick.order_by(t.c.id).limit(window).with_for_update(of=t, skip_locked=True)
        # Of the people picked, those with a row held: the oldest such row.
        held = (
            select(t.c.channel, t.c.account, func.min(t.c.id))
            .where(
                t.c.channel.in_(channels),
                t.c.status.in_((CLAIMED, SENDING)),
                t.c.claimed_at >= expired,
                _in(self.session, t.c.account, "accounts"),
            )
            .group_by(t.c.channel, t.c.account)
        )
        ids: list[int] = []
        after = 0
        while len(ids) < limit:
            found = (await self.session.execute(pick, {"after": after})).all()
            if not found:
                break
            people = list({a for _, _, a in found})
            first_held = {
                (c, a): i for c, a, i in await self.session.execute(held, {"accounts": people})
            }
            ids += [i for i, c, a in found if first_held.get((c, a), i) >= i]
            if len(found) < window:
                break
            after = found[-1][0]
        if not ids:
            return []
        stmt = (
            update(t)
            .where(_in(self.session, t.c.id, "ids"))
            .values(
                status=case((t.c.status == SENDING, SENDING), else_=CLAIMED),
                claimed_at=now,
                attempts=t.c.attempts + 1,
            )
            .returning(*_CLAIMED_COLUMNS)
        )
        rows = []
        for *values, account_id, ref, last_inbound_at in await self.session.execute(
            stmt, {"ids": ids[:limit]}
        ):
            row = Claim(*values)
            if account_id is not None:
                row.recipient = Recipient(row.account, ref, last_inbound_at)
            rows.append(row)
        rows.sort(key=lambda r: r.id)
        return rows

    async def start_sending(
        self, claims: Sequence[tuple[int, datetime]], *, now: datetime
    ) -> set[int]:
        """Mark claimed rows `sending` just before their send; returns the ids marked.

        A row is marked only if it is still this worker's claim (claimed_at as claimed): one
        taken over by another worker, or withdrawn, is not sent. A row already `sending` (in
        doubt, and found absent on the platform) is marked again: its lease starts anew, so
        a slow lookup does not leave too little of it for the send.
        `next_attempt_at` becomes the time the send started, from which a later lookup
        searches the platform. One statement per claim token (rows claimed together share
        one).
        """
        by_token: dict[datetime, list[int]] = defaultdict(list)
        for row_id, token in claims:
            by_token[token].append(row_id)
        t = OUTBOX
        marked: set[int] = set()
        for token, ids in by_token.items():
            stmt = (
                update(t)
                .where(
                    _in(self.session, t.c.id, "ids"),
                    t.c.status.in_((CLAIMED, SENDING)),
                    t.c.claimed_at == token,
                )
                .values(status=SENDING, claimed_at=now, next_attempt_at=now)
                .returning(t.c.id)
            )
            marked.update((await self.session.execute(stmt, {"ids": ids})).scalars())
        return marked

    async def finish_many(
        self, outcomes: Sequence[Outcome], *, now: datetime, lease: timedelta
    ) -> None:
        """Record what became of claimed rows: one executemany per kind, each fenced by the
        row's claim token (a row another worker took over is left alone)."""
        by_kind: dict[str, list[Outcome]] = defaultdict(list)
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


def _in(session: AsyncSession, column: Column[Any], name: str) -> ColumnElement[bool]:
    """`column = ANY(:name)` on PostgreSQL: one statement text (prepared once) whatever the
    number of values, where `IN (…)` is a new statement for every count."""
    if is_postgres(session):
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


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
