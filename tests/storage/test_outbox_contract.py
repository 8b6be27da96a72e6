"""The delivery outbox's contract (`DeliveryOutbox`, storage/outbox.py): the same scenarios
against both implementations — every test taking `db` runs on SQLite (storage/outbox_sqlite.py)
and PostgreSQL (storage/outbox_postgres.py)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from bot.errors import StoreUnavailable
from bot.messages import Outgoing
from storage.db import Database
from storage.models import ChannelAccount, OutboxMessage, utcnow
from storage.outbox import Claim, Outbox, RowOutcome, outbox_row
from storage.outbox_postgres import PostgresOutbox
from storage.outbox_sqlite import SqliteOutbox
from storage.outbox_worker import outbox_for
from tests.support.databases import PG_ADMIN
from tests.support.org import Org

LEASE = timedelta(minutes=5)
CONSOLE = ["console"]


async def queue(db: Database, *accounts: str, now: datetime, **extra: Any) -> list[int]:
    """One row per account given, in that order; their ids."""
    rows = [
        {**outbox_row("console", a, None, Outgoing(f"to {a}"), now=now), **extra} for a in accounts
    ]
    async with db.transaction() as session:
        await Outbox(session).add_many(rows)
        found = await session.execute(select(OutboxMessage.id).order_by(OutboxMessage.id))
        return list(found.scalars())[-len(accounts) :]


async def stored(db: Database) -> dict[int, OutboxMessage]:
    async with db.transaction(read_only=True) as session:
        return {r.id: r for r in (await session.execute(select(OutboxMessage))).scalars()}


def accounts_of(claims: list[Claim]) -> list[str]:
    return [c.account for c in claims]


async def test_each_backend_has_its_own_implementation(db: Database) -> None:
    assert isinstance(outbox_for(db), SqliteOutbox if db.is_sqlite else PostgresOutbox)


async def test_a_persons_rows_are_claimed_in_order_and_wait_behind_a_held_one(
    db: Database,
) -> None:
    now = utcnow()
    ids = await queue(db, "a", "b", "a", "b", "a", now=now)
    outbox = outbox_for(db)
    everything = await outbox.claim(CONSOLE, now=now, limit=10, lease=LEASE)
    assert [c.id for c in everything] == ids  # one worker takes them all, in id order
    give_back = [RowOutcome("release", c.id, c.claimed_at, at=now) for c in everything]
    await outbox.write([], give_back, now=now, lease=LEASE)

    (first,) = await outbox.claim(CONSOLE, now=now, limit=1, lease=LEASE)
    assert (first.id, first.account) == (ids[0], "a")
    # Another worker: a's newer rows wait while a's first is held; b's go.
    assert accounts_of(await outbox.claim(CONSOLE, now=now, limit=10, lease=LEASE)) == ["b", "b"]
    sent = RowOutcome("sent", first.id, first.claimed_at, at=now, platform_message_id="m")
    await outbox.write([], [sent], now=now, lease=LEASE)
    rest = await outbox.claim(CONSOLE, now=now, limit=10, lease=LEASE)
    assert [c.id for c in rest] == [ids[2], ids[4]]


async def test_a_claim_passes_by_a_long_queue_behind_a_held_row(db: Database) -> None:
    now = utcnow()
    await queue(db, *["busy"] * 60, "other", now=now)
    outbox = outbox_for(db)
    (held,) = await outbox.claim(CONSOLE, now=now, limit=1, lease=LEASE)
    assert held.account == "busy"
    # The 59 rows behind it fill more than one window of the claim.
    assert accounts_of(await outbox.claim(CONSOLE, now=now, limit=5, lease=LEASE)) == ["other"]


async def test_two_workers_never_claim_the_same_row(db: Database) -> None:
    """Claims side by side. On PostgreSQL a claim may find nothing while another holds its
    window of rows locked (SKIP LOCKED): the rows are not lost, a later claim gets them."""
    now = utcnow()
    ids = await queue(db, *(f"p{i}" for i in range(40)), now=now)
    outbox = outbox_for(db)
    got: list[int] = []
    for _ in range(10):
        claims = await asyncio.gather(
            *(outbox.claim(CONSOLE, now=now, limit=7, lease=LEASE) for _ in range(4))
        )
        got += [c.id for batch in claims for c in batch]
        if not any(claims):
            break
    assert len(got) == len(set(got))  # none twice
    assert sorted(got) == ids  # none left out


async def test_only_the_channels_and_accounts_asked_for_are_claimed(db: Database) -> None:
    now = utcnow()
    await queue(db, "a", "b", now=now)
    outbox = outbox_for(db)
    assert await outbox.claim(["slack"], now=now, limit=10, lease=LEASE) == []
    only_b = await outbox.claim(CONSOLE, now=now, limit=10, lease=LEASE, accounts=["b"])
    assert accounts_of(only_b) == ["b"]


async def test_rows_are_due_at_their_next_attempt(db: Database) -> None:
    now = utcnow()
    await queue(db, "a", now=now + timedelta(seconds=30))
    outbox = outbox_for(db)
    assert await outbox.claim(CONSOLE, now=now, limit=10, lease=LEASE) == []
    later = now + timedelta(seconds=31)
    assert accounts_of(await outbox.claim(CONSOLE, now=later, limit=10, lease=LEASE)) == ["a"]


async def test_a_lease_that_runs_out_gives_the_rows_back(db: Database) -> None:
    t0 = utcnow()
    await queue(db, "a", "b", now=t0)
    outbox = outbox_for(db)
    a, b = await outbox.claim(CONSOLE, now=t0, limit=10, lease=LEASE)
    assert (a.status, a.attempts, a.claimed_at) == ("claimed", 1, t0)
    assert await outbox.write([(b.id, t0)], [], now=t0, lease=LEASE) == {b.id}
    before = t0 + LEASE - timedelta(seconds=1)
    assert await outbox.claim(CONSOLE, now=before, limit=10, lease=LEASE) == []
    after = t0 + LEASE + timedelta(seconds=1)
    back = await outbox.claim(CONSOLE, now=after, limit=10, lease=LEASE)
    # The claimed row comes back to be sent; the one being sent comes back in doubt.
    assert [(c.id, c.status, c.attempts, c.claimed_at) for c in back] == [
        (a.id, "claimed", 2, after),
        (b.id, "sending", 2, after),
    ]
    assert back[1].next_attempt_at == t0  # when its send started: the lookup searches from it


async def test_held_rows_go_out_when_the_person_writes(org: Org) -> None:
    db = org.engine.db
    await org.say("emp0", "hallo")
    await org.say("emp2", "hallo")
    outbox = outbox_for(db)
    now = utcnow()
    claims = await outbox.claim(CONSOLE, now=now, limit=10, lease=LEASE)
    assert sorted(set(accounts_of(claims))) == ["emp0@example.org", "emp2@example.org"]
    held = [RowOutcome("held", c.id, c.claimed_at, at=now, platform_message_id="t") for c in claims]
    await outbox.write([], held, now=now, lease=LEASE)
    assert await outbox.claim(CONSOLE, now=now, limit=10, lease=LEASE) == []
    async with db.transaction() as session:  # neither has written for two days
        await session.execute(update(ChannelAccount).values(last_inbound_at=now - timedelta(2)))

    await org.say("emp0", "hallo")
    rows = await stored(db)
    mine = {c.id for c in claims if c.account == "emp0@example.org"}
    assert {rows[i].status for i in mine} == {"pending"}
    assert all(rows[i].payload is not None for i in mine)  # the body waited for them
    theirs = {c.id for c in claims} - mine
    assert {rows[i].status for i in theirs} == {"held"}
    again = await outbox.claim(CONSOLE, now=utcnow(), limit=10, lease=LEASE)
    assert mine < {c.id for c in again} and not theirs & {c.id for c in again}


async def test_writes_are_fenced_by_the_claim_token(db: Database) -> None:
    t0 = utcnow()
    await queue(db, "a", now=t0)
    outbox = outbox_for(db)
    (mine,) = await outbox.claim(CONSOLE, now=t0, limit=1, lease=LEASE)
    later = t0 + LEASE * 2  # the lease ran out; another worker took the row over
    (theirs,) = await outbox.claim(CONSOLE, now=later, limit=1, lease=LEASE)
    assert mine.id == theirs.id and theirs.claimed_at == later
    assert await outbox.write([(mine.id, mine.claimed_at)], [], now=later, lease=LEASE) == set()
    for kind in ("sent", "held", "retry", "failed", "release", "doubt"):
        stale = RowOutcome(kind, mine.id, mine.claimed_at, at=later, platform_message_id="stale")
        await outbox.write([], [stale], now=later, lease=LEASE)
    row = (await stored(db))[mine.id]
    assert (row.status, row.claimed_at, row.attempts, row.platform_message_id) == (
        "claimed",
        later,
        2,
        None,
    )
    # The worker that holds the row writes it.
    assert await outbox.write([(theirs.id, later)], [], now=later, lease=LEASE) == {theirs.id}


async def test_every_outcome_is_written_as_its_kind_says(db: Database) -> None:
    now = utcnow()
    ref = {"conversation": {"id": "c1"}}
    await queue(db, *(f"p{i}" for i in range(6)), now=now, recipient_ref=ref)
    outbox = outbox_for(db)
    claimed = await outbox.claim(CONSOLE, now=now, limit=10, lease=LEASE)
    assert [r.status for r in claimed] == ["claimed"] * 6 and claimed[0].recipient is None
    later = now + timedelta(seconds=1)
    marks = [(r.id, r.claimed_at) for r in claimed]
    assert await outbox.write(marks, [], now=later, lease=LEASE) == {r.id for r in claimed}
    at = later + timedelta(minutes=1)
    kinds = ["sent", "held", "retry", "failed", "release", "doubt"]
    outcomes = [
        RowOutcome(k, r.id, later, at=at, platform_message_id=f"pm-{k}", error=f"e-{k}")
        for k, r in zip(kinds, claimed, strict=True)
    ]
    await outbox.write([], outcomes, now=later, lease=LEASE)
    found = await stored(db)
    got = {
        k: (found[r.id].status, found[r.id].sent_at, found[r.id].platform_message_id,
            found[r.id].last_error, found[r.id].next_attempt_at, found[r.id].attempts,
            found[r.id].claimed_at)
        for k, r in zip(kinds, claimed, strict=True)
    }  # fmt: skip
    assert got == {
        "sent": ("sent", at, "pm-sent", None, later, 1, later),
        "held": ("held", at, "pm-held", None, later, 1, later),
        "retry": ("pending", None, None, "e-retry", at, 1, later),
        "failed": ("failed", None, None, "e-failed", later, 1, later),
        "release": ("pending", None, None, None, at, 0, later),
        "doubt": ("sending", None, None, "e-doubt", later, 1, at - LEASE),
    }
    # Message bodies do not outlive their delivery: a sent or failed row keeps none, nor the
    # platform reference; every other row still needs its body.
    by_kind = dict(zip(kinds, claimed, strict=True))
    bodies = {k: (found[r.id].payload, found[r.id].recipient_ref) for k, r in by_kind.items()}
    assert bodies["sent"] == bodies["failed"] == (None, None)
    kept = [bodies[k] for k in ("held", "retry", "release", "doubt")]
    assert all(payload is not None and r == ref for payload, r in kept)


async def test_marks_and_outcomes_share_one_write(db: Database) -> None:
    now = utcnow()
    await queue(db, "a", "b", now=now)
    outbox = outbox_for(db)
    a, b = await outbox.claim(CONSOLE, now=now, limit=10, lease=LEASE)
    done = RowOutcome("sent", b.id, b.claimed_at, at=now, platform_message_id="m")
    assert await outbox.write([(a.id, a.claimed_at)], [done], now=now, lease=LEASE) == {a.id}
    rows = await stored(db)
    assert (rows[a.id].status, rows[b.id].status) == ("sending", "sent")


async def test_an_unreachable_store_is_unavailable(db: Database, tmp_path: Path) -> None:
    if db.is_sqlite:
        url = f"sqlite+aiosqlite:///{tmp_path / 'absent' / 'outbox.db'}"
    else:
        url = make_url(db.url).set(port=1).render_as_string(hide_password=False)
    gone = Database(url)
    outbox = outbox_for(gone)
    try:
        with pytest.raises(StoreUnavailable):
            await outbox.claim(CONSOLE, now=utcnow(), limit=1, lease=LEASE)
        with pytest.raises(StoreUnavailable):
            await outbox.write([(1, utcnow())], [], now=utcnow(), lease=LEASE)
    finally:
        await gone.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_connection_the_server_ended_is_unavailable_then_replaced(
    db: Database, database_url: str
) -> None:
    """PostgreSQL only (SQLite has no server to end a connection): the statements run on the
    driver connection, which SQLAlchemy does not watch."""
    now = utcnow()
    await queue(db, "a", now=now)
    outbox = outbox_for(db)
    assert await outbox.claim(["slack"], now=now, limit=1, lease=LEASE) == []  # pooled now
    name = make_url(database_url).database
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        for _ in range(100):  # termination is asynchronous
            if not await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", name
            ):
                break
            await asyncio.sleep(0.05)
    finally:
        await admin.close()
    with pytest.raises(StoreUnavailable):
        await outbox.claim(CONSOLE, now=now, limit=1, lease=LEASE)
    # The broken connection was not given back to the pool: the next claim works.
    assert accounts_of(await outbox.claim(CONSOLE, now=now, limit=1, lease=LEASE)) == ["a"]
