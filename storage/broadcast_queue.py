"""Queueing a broadcast: the next batch of its audience becomes outbox rows.

Batches go in order of person id; `Broadcast.expanded_through` remembers how far it got. The
caller holds the broadcast row locked (Broadcasts.lock_sending), and the primary key
(broadcast, person) of broadcast_recipients makes a second copy impossible: whichever process
ticks, nobody is queued twice. Each batch is a few statements (people, opt-outs, accounts,
one multi-row outbox insert with RETURNING, one recipients insert), never one per person.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import Outgoing
from storage.broadcast_models import Broadcast, BroadcastOptOut, BroadcastRecipient
from storage.broadcasts import (
    CHUNK,
    DONE,
    OPTED_OUT,
    QUEUED,
    SENDING_STATUS,
    UNREACHABLE,
    people_filter,
)
from storage.models import ChannelAccount, OutboxMessage, Person
from storage.outbox import outbox_row
from storage.people import Audience
from storage.sql import is_postgres


@dataclass(frozen=True, slots=True)
class Batch:
    queued: int = 0
    opted_out: int = 0
    unreachable: int = 0
    finished: bool = False


async def expand(
    session: AsyncSession,
    broadcast: Broadcast,
    build: Callable[[str], Outgoing],
    prompt: Callable[[Outgoing], dict[str, Any]],
    *,
    now: datetime,
    fallback_channel: str,
    limit: int = CHUNK,
) -> Batch:
    """Queue the next batch of a locked, sending broadcast; the last call marks it sent.

    `build` makes the message for a language (built once per language and batch: the
    payload is the same for everyone who reads that language). Opted-out people get a
    recipient row and no message. With a channel filter only people
    with an account on that channel are in the audience, reached there; without one, people
    with no account at all get a mailbox on `fallback_channel` keyed by e-mail (as
    Services.notify_many does), or are unreachable when they have no e-mail either.
    """
    if is_postgres(session):
        # Custom plans for this transaction: mailbox accounts can grow a table from nothing
        # to the whole roster while one broadcast is queued, and a generic plan cached
        # while it was small would scan it whole for every batch.
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    stmt = (
        select(Person)
        .where(
            Person.id > broadcast.expanded_through,
            *people_filter(Audience.from_dict(broadcast.audience), broadcast.channel),
        )
        .order_by(Person.id)
        .limit(limit)
    )
    people = list((await session.execute(stmt)).scalars())
    if not people:
        await _finish(session, broadcast, now)
        return Batch(finished=True)
    ids = [p.id for p in people]
    optouts = select(BroadcastOptOut.person_id).where(BroadcastOptOut.person_id.in_(ids))
    opted = set((await session.execute(optouts)).scalars())
    accounts = await _accounts(
        session, [p for p in people if p.id not in opted], broadcast.channel, fallback_channel
    )
    recipients: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    rendered: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for person in people:
        account = accounts.get(person.id)
        if person.id in opted or account is None:
            state = OPTED_OUT if person.id in opted else UNREACHABLE
            recipients.append(
                {
                    "broadcast_id": broadcast.id,
                    "person_id": person.id,
                    "state": state,
                    "reason": "no_channel" if state == UNREACHABLE else None,
                    "outbox_id": None,
                    "channel": None,
                }
            )
            continue
        lang = person.language or "nl"
        if lang not in rendered:
            outgoing = build(lang)
            rendered[lang] = (outbox_row("", "", None, outgoing, now=now), prompt(outgoing))
        row, asked = rendered[lang]
        messages.append(
            {
                **row,
                "channel": account.channel,
                "account": account.platform_id,
                "person_id": person.id,
                "prompt": asked,
            }
        )
    queued = 0
    if messages:
        result = await session.execute(
            insert(OutboxMessage).returning(
                OutboxMessage.id, OutboxMessage.person_id, OutboxMessage.channel
            ),
            messages,
        )
        for outbox_id, person_id, channel in result:
            queued += 1
            recipients.append(
                {
                    "broadcast_id": broadcast.id,
                    "person_id": person_id,
                    "state": QUEUED,
                    "reason": None,
                    "outbox_id": outbox_id,
                    "channel": channel,
                }
            )
    await session.execute(insert(BroadcastRecipient), recipients)
    broadcast.expanded_through = ids[-1]
    await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast.id)
        .values(expanded_through=broadcast.expanded_through)
    )
    # A short batch was the last one: no need for another round to find nobody.
    finished = len(people) < limit
    if finished:
        await _finish(session, broadcast, now)
    opted_out = sum(p.id in opted for p in people)
    return Batch(
        queued=queued,
        opted_out=opted_out,
        unreachable=len(people) - queued - opted_out,
        finished=finished,
    )


async def _finish(session: AsyncSession, broadcast: Broadcast, now: datetime) -> None:
    await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast.id, Broadcast.status == SENDING_STATUS)
        .values(status=DONE, finished_at=now)
    )
    broadcast.status = DONE


async def _accounts(
    session: AsyncSession, people: Sequence[Person], channel: str | None, fallback: str
) -> dict[int, ChannelAccount]:
    """Per person the account to use: on `channel` when given, else their preferred one."""
    if not people:
        return {}
    stmt = select(ChannelAccount).where(ChannelAccount.person_id.in_([p.id for p in people]))
    if channel is not None:
        stmt = stmt.where(ChannelAccount.channel == channel)
    best = _best(list((await session.execute(stmt)).scalars()))
    if channel is not None:
        return best
    rows = [
        {"channel": fallback, "platform_id": p.email.lower(), "person_id": p.id}
        for p in people
        if p.id not in best and p.email
    ]
    if rows:
        # One statement for all mailboxes, safe against a concurrent link of the same one.
        insert_fn = pg_insert if is_postgres(session) else sqlite_insert
        await session.execute(
            insert_fn(ChannelAccount).on_conflict_do_nothing(
                index_elements=["channel", "platform_id"]
            ),
            rows,
        )
        stmt = select(ChannelAccount).where(
            ChannelAccount.person_id.in_([r["person_id"] for r in rows]),
            ChannelAccount.channel == fallback,
        )
        best.update(_best(list((await session.execute(stmt)).scalars())))
    return best


def _best(accounts: Sequence[ChannelAccount]) -> dict[int, ChannelAccount]:
    """Per person the account used most recently, else the first linked (as preferred())."""
    best: dict[int, ChannelAccount] = {}
    for acc in accounts:
        cur = best.get(acc.person_id)
        if cur is None or _newer(acc, cur):
            best[acc.person_id] = acc
    return best


def _newer(a: ChannelAccount, b: ChannelAccount) -> bool:
    if a.last_inbound_at and b.last_inbound_at:
        return a.last_inbound_at > b.last_inbound_at
    if a.last_inbound_at or b.last_inbound_at:
        return a.last_inbound_at is not None
    return a.id < b.id
