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

This module holds what both sides share: the row, its states, `Outbox` (rows added in an
event's or job's transaction) and `DeliveryOutbox`, the interface the delivery worker uses.
It has one implementation per backend, storage/outbox_sqlite.py and
storage/outbox_postgres.py, chosen by `storage.outbox_worker.outbox_for`; the contract tests
(tests/storage/test_outbox_contract.py) hold both to the same rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import Outgoing, Recipient
from storage.models import OutboxMessage
from storage.reach import Address
from storage.unit import raw

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


def addressed_rows(
    messages: Mapping[int, Outgoing | None],
    accounts: Mapping[int, Address],
    *,
    prompt: Callable[[Outgoing], dict[str, Any] | None],
    now: datetime,
) -> list[dict[str, Any]]:
    """A fan-out's outbox row per person id with a message and an account (storage/reach.py),
    in the order of `messages`. The part of a row that comes from the message, its prompt
    included, is made once per message (most share one per language) and shared by its rows,
    so the insert serialises it once too (storage/raw.py). Keyed by identity, which holds
    while `messages` keeps them alive. Every row has a prompt key (None when the message asks
    nothing): an insert takes its columns from the first."""
    made: dict[int, dict[str, Any]] = {}
    rows = []
    for pid, outgoing in messages.items():
        account = accounts.get(pid)
        if outgoing is None or account is None:
            continue
        shared = made.get(id(outgoing))
        if shared is None:
            shared = outbox_row("", "", None, outgoing, now=now) | {"prompt": prompt(outgoing)}
            made[id(outgoing)] = shared
        rows.append(
            shared | {"channel": account.channel, "account": account.platform_id, "person_id": pid}
        )
    return rows


def _payload(outgoing: Outgoing) -> dict[str, Any]:
    """What `json.loads(outgoing.to_json())` gives, built directly: a poll to 100,000 people
    writes 100,000 rows, and `dataclasses.asdict` (a deep copy) with a JSON round trip was
    most of the CPU of queueing them (issue 15). tests/scale/test_queueing.py holds the two
    equal."""
    data = {f: getattr(outgoing, f) for f in _FIELDS}
    data["choices"] = [{"label": c.label, "payload": c.payload} for c in outgoing.choices]
    data["images"] = list(outgoing.images)
    data["purpose"] = str(outgoing.purpose.value)
    return data


_FIELDS = tuple(f.name for f in fields(Outgoing))


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """What became of one claimed row, written by `DeliveryOutbox.write`.

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


def claimed(records: Iterable[Sequence[Any]]) -> list[Claim]:
    """Claimed rows as returned by either backend's CLAIM (the row's columns, then the
    recipient account's id, conversation reference and last inbound time), oldest first."""
    rows = []
    for *values, account_id, ref, last_inbound_at in records:
        row = Claim(*values)
        if account_id is not None:
            row.recipient = Recipient(row.account, ref, last_inbound_at)
        rows.append(row)
    rows.sort(key=lambda r: r.id)
    return rows


class DeliveryOutbox(Protocol):
    """What the delivery worker does to the outbox (bot/delivery.py, bot/delivery_results.py).

    Each call is its own committed transaction, on a connection of its own: a worker's rows
    are never written in an event's transaction. Failures of the store surface as
    StoreUnavailable (storage/db.py), whichever backend.
    """

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
        """Claim up to `limit` due rows of `channels` (of `accounts` only, when given), in id
        order; concurrent workers never get the same row. `worker`: the claiming worker's
        id (`claimed_by`), so that its rows are released when its heartbeat stops
        (storage/workers.py); None for a worker that does not beat (tests, the terminal).

        Due: `pending` rows whose `next_attempt_at` has come, and `claimed` or `sending` rows
        whose claim is older than `lease` (their worker died). A claimed row becomes
        `claimed`, or stays `sending` (in doubt), with `claimed_at = now` (its claim token)
        and one attempt more. A row waits while an older row to the same person is held by
        a worker, so one person's messages go out in order; the rows of people waiting are
        passed by, however many there are.
        """
        ...

    async def write(
        self,
        marks: Sequence[tuple[int, datetime]],
        outcomes: Sequence[RowOutcome],
        *,
        now: datetime,
        lease: timedelta,
    ) -> set[int]:
        """Mark rows `sending` and record what became of others, in one transaction (the
        worker's group commit, storage/outbox_worker.py); returns the ids marked.

        A mark (row id, claim token) is written only if the row is still this worker's
        claim, `claimed` or `sending` (a row in doubt found absent on the platform is marked
        again, its lease starting anew): status `sending`, `claimed_at` and
        `next_attempt_at` = `now` (the new token, and when the send started, from which a
        later lookup searches the platform).

        Each outcome is fenced by its token the same way. Per kind: `sent` (body erased),
        `held` (sent_at and platform id, body kept for the person), `retry` (pending at
        `at`), `failed` (body erased), `release` (pending at `at`, the attempt not counted),
        `doubt` (stays `sending`, its lease ending at `at`, when it is looked up again).
        Errors are cut to 500 characters.
        """
        ...


def release_held_sql(*, now: str, channel: str, account: str) -> str:
    """The rule "the person wrote: messages held for them go out now", as an UPDATE over the
    caller's placeholders. Its one home; storage/inbound.py runs it in the event's
    transaction: on its own on SQLite, inside the event's first statement on PostgreSQL."""
    return (
        f"UPDATE outbox SET status = '{PENDING}', next_attempt_at = {now} "
        f"WHERE status = '{HELD}' AND channel = {channel} AND account = {account}"
    )


class Outbox:
    """Rows added in the transaction of an event or job, and the queue's depth."""

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
        """Bulk insert for fan-out to many people, on the transaction's driver connection
        (storage/raw.py): the model's column defaults apply as the ORM's would, without its
        bookkeeping per row, and a payload the rows share is serialised once. Every row
        must have the same keys (the statement's columns come from the first)."""
        if rows:
            await (await raw(self.session)).insert(OutboxMessage.__table__, rows)  # type: ignore[arg-type]

    async def depth(self) -> dict[str, int]:
        """Undelivered rows per channel (for /metrics)."""
        stmt = (
            select(OutboxMessage.channel, func.count())
            .where(OutboxMessage.status.in_(UNDELIVERED))
            .group_by(OutboxMessage.channel)
        )
        return {channel: n for channel, n in await self.session.execute(stmt)}
