"""Queueing a broadcast: the next batch of its audience becomes outbox rows.

Batches go in order of person id; `Broadcast.expanded_through` remembers how far it got. The
caller holds the broadcast row locked (Broadcasts.lock_sending), and the primary key
(broadcast, person) of broadcast_recipients makes a second copy impossible: whichever process
ticks, nobody is queued twice. Each batch is a few statements (people, opt-outs, accounts,
one multi-row outbox insert with RETURNING, one recipients insert), never one per person.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, text, update
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
from storage.models import OutboxMessage, Person
from storage.outbox import addressed_rows
from storage.people import Audience
from storage.reach import reach
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
    recipient row and no message. Who is reached where is storage.reach's rule, as for
    Services.notify_many: with a channel filter only people with an account on that channel
    are in the audience, reached there; without one, people with no account at all get a
    mailbox on `fallback_channel`, or are unreachable when they have no e-mail either.
    """
    people = await _next_people(session, broadcast, limit)
    if not people:
        await _finish(session, broadcast, now)
        return Batch(finished=True)
    optouts = select(BroadcastOptOut.person_id).where(
        BroadcastOptOut.person_id.in_([p.id for p in people])
    )
    opted = set((await session.execute(optouts)).scalars())
    reachable = [p for p in people if p.id not in opted]
    accounts = await reach(session, reachable, fallback=fallback_channel, channel=broadcast.channel)
    made = {lang: build(lang) for lang in {p.language or "nl" for p in reachable}}
    messages = {p.id: made[p.language or "nl"] for p in reachable}
    rows = addressed_rows(messages, accounts, prompt=prompt, now=now)
    queued = await _queue(session, broadcast.id, rows)
    skipped = [_skipped(broadcast.id, p.id, p.id in opted) for p in people if p.id not in queued]
    await session.execute(insert(BroadcastRecipient), [*queued.values(), *skipped])
    broadcast.expanded_through = people[-1].id
    await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast.id)
        .values(expanded_through=broadcast.expanded_through)
    )
    # A short batch was the last one: no need for another round to find nobody.
    finished = len(people) < limit
    if finished:
        await _finish(session, broadcast, now)
    return Batch(
        queued=len(queued),
        opted_out=len(opted),
        unreachable=len(people) - len(queued) - len(opted),
        finished=finished,
    )


async def _next_people(session: AsyncSession, broadcast: Broadcast, limit: int) -> list[Person]:
    """The audience after `expanded_through`, in order of person id, `limit` at most."""
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
    return list((await session.execute(stmt)).scalars())


async def _queue(
    session: AsyncSession, broadcast_id: int, messages: list[dict[str, Any]]
) -> dict[int, dict[str, Any]]:
    """Insert the outbox rows in one statement; the recipient row of each, by person id."""
    if not messages:
        return {}
    result = await session.execute(
        insert(OutboxMessage).returning(
            OutboxMessage.id, OutboxMessage.person_id, OutboxMessage.channel
        ),
        messages,
    )
    return {
        person_id: {
            "broadcast_id": broadcast_id,
            "person_id": person_id,
            "state": QUEUED,
            "reason": None,
            "outbox_id": outbox_id,
            "channel": channel,
        }
        for outbox_id, person_id, channel in result
        if person_id is not None  # every broadcast row names its recipient
    }


def _skipped(broadcast_id: int, person_id: int, opted_out: bool) -> dict[str, Any]:
    """The recipient row of someone who gets no message: opted out, or no channel."""
    return {
        "broadcast_id": broadcast_id,
        "person_id": person_id,
        "state": OPTED_OUT if opted_out else UNREACHABLE,
        "reason": None if opted_out else "no_channel",
        "outbox_id": None,
        "channel": None,
    }


async def _finish(session: AsyncSession, broadcast: Broadcast, now: datetime) -> None:
    await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast.id, Broadcast.status == SENDING_STATUS)
        .values(status=DONE, finished_at=now)
    )
    broadcast.status = DONE
