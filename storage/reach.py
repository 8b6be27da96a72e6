"""Reaching people: per person, the channel account a message to them goes to.

One rule for every fan-out to an audience (Services.notify_many for polls, questions,
reminders and reports, and a broadcast's batches in storage/broadcast_queue.py):

- the account the person used most recently, else the first one linked;
- with a channel filter, only an account on that channel;
- someone with no account at all gets a mailbox on the fallback channel keyed by their
  e-mail, so nothing sent to them is lost before they first use a channel; with no e-mail
  either, they cannot be reached;
- a mailbox that is already linked to somebody else is never used: the message would reach
  the wrong person (a misread is worse than a refusal);
- forgotten people are never reached.

A few statements per call (accounts, one multi-row mailbox insert, its accounts), never one
per person: a broadcast calls this for every batch of 500.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Select, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ChannelAccount, Person
from storage.sql import is_postgres


class Address(NamedTuple):
    """Where a message to one person goes: plain values, not ORM objects, since a fan-out
    reads one per recipient (100,000 for a poll to everyone)."""

    channel: str
    platform_id: str


class _Candidate(NamedTuple):
    id: int
    person_id: int
    channel: str
    platform_id: str
    last_inbound_at: datetime | None


def _accounts(person_ids: Iterable[int]) -> Select[int, int, str, str, datetime | None]:
    a = ChannelAccount
    return select(a.id, a.person_id, a.channel, a.platform_id, a.last_inbound_at).where(
        a.person_id.in_(list(person_ids))
    )


async def reach(
    session: AsyncSession,
    people: Sequence[Person],
    *,
    fallback: str,
    channel: str | None = None,
) -> dict[int, Address]:
    """Per person id the account to send to; the unreachable are absent (see the module)."""
    people = [p for p in people if p.forgotten_at is None]
    if not people:
        return {}
    stmt = _accounts(p.id for p in people)
    if channel is not None:
        stmt = stmt.where(ChannelAccount.channel == channel)
    best = await _best(session, stmt)
    if channel is None:
        homeless = [p for p in people if p.id not in best and p.email]
        best.update(await _mailboxes(session, homeless, fallback))
    return best


async def _mailboxes(
    session: AsyncSession, people: Sequence[Person], channel: str
) -> dict[int, Address]:
    """A mailbox on `channel` keyed by e-mail for each person, in one insert that is safe
    against a concurrent link of the same one; only mailboxes that are theirs come back."""
    if not people:
        return {}
    rows = [
        {"channel": channel, "platform_id": (p.email or "").lower(), "person_id": p.id}
        for p in people
    ]
    insert_fn = pg_insert if is_postgres(session) else sqlite_insert
    await session.execute(
        insert_fn(ChannelAccount).on_conflict_do_nothing(index_elements=["channel", "platform_id"]),
        rows,
    )
    stmt = _accounts(p.id for p in people).where(ChannelAccount.channel == channel)
    return await _best(session, stmt)


async def _best(
    session: AsyncSession, stmt: Select[int, int, str, str, datetime | None]
) -> dict[int, Address]:
    """Per person among the accounts `stmt` finds, the one used most recently, else the
    first linked."""
    best: dict[int, _Candidate] = {}
    for acc in map(_Candidate._make, await session.execute(stmt)):
        cur = best.get(acc.person_id)
        if cur is None or _newer(acc, cur):
            best[acc.person_id] = acc
    return {pid: Address(acc.channel, acc.platform_id) for pid, acc in best.items()}


def _newer(a: _Candidate, b: _Candidate) -> bool:
    if a.last_inbound_at and b.last_inbound_at:
        return a.last_inbound_at > b.last_inbound_at
    if a.last_inbound_at or b.last_inbound_at:
        return a.last_inbound_at is not None
    return a.id < b.id
