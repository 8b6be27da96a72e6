"""The first steps of every event: the register that recognises platform retries, and who
sent the event. Both run on the driver connection (storage/raw.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm.attributes import set_committed_value

from storage.conversations import SHAPE as _CONVERSATION
from storage.conversations import lock_conversation
from storage.models import (
    ChannelAccount,
    Conversation,
    InboundEvent,
    OutboxMessage,
    Person,
    utcnow,
)
from storage.outbox import release_held_sql
from storage.raw import Query, Shape
from storage.unit import Store, adopt, raw

_COLUMNS = InboundEvent.__table__.c
_RECORD = Query(
    "INSERT INTO inbound_events (channel, event_key, received_at) VALUES ($1, $2, $3) "
    "ON CONFLICT (channel, event_key) DO NOTHING RETURNING id",
    params=(None, None, _COLUMNS.received_at.type),
)


async def record_event(
    store: Store, channel: str, event_key: str, now: datetime | None = None
) -> bool:
    """Remember (channel, event_key); False when it was seen before (a platform retry).
    `event_key` is the keyed hash of the platform's event id (bot/privacy.py).

    Concurrent deliveries of one event are safe on both backends: on PostgreSQL the second
    waits for the first to commit and then inserts nothing.
    """
    sql = await raw(store)
    received = now or utcnow()
    return await sql.fetchrow(_RECORD, channel, event_key[:64], received) is not None


_ACCOUNT = Shape.of(ChannelAccount.__table__, "a")  # type: ignore[arg-type]
_PERSON = Shape.of(Person.__table__, "p")  # type: ignore[arg-type]
_SENDER = (
    f"SELECT {_ACCOUNT.select_list}, {_PERSON.select_list}, "
    "(SELECT string_agg(r.role, ',') FROM roles r WHERE r.person_id = p.id) "
    "FROM channel_accounts a JOIN people p ON p.id = a.person_id "
    "WHERE a.channel = $1 AND a.platform_id = $2"
)
_CONVERSATION_COLUMNS = Conversation.__table__.c
_FIND_SENDER = Query(
    _SENDER,
    params=(None, None),
    columns=(*_ACCOUNT.types, *_PERSON.types, None),
    sqlite=_SENDER.replace("string_agg(", "group_concat("),
)


async def find_sender(
    store: Store, channel: str, platform_id: str
) -> tuple[ChannelAccount, Person, set[str]] | None:
    """The account, its person and their roles in one statement (every event starts here);
    account and person are in the session as ORM objects, so changes to them are flushed."""
    row = await (await raw(store)).fetchrow(_FIND_SENDER, channel, platform_id)
    if row is None:
        return None
    account = adopt(store, ChannelAccount, _ACCOUNT.values(row))
    person = adopt(store, Person, _PERSON.values(row, len(_ACCOUNT.names)))
    roles = row[-1]
    return account, person, set(roles.split(",")) if roles else set()


@dataclass(frozen=True, slots=True)
class Arrival:
    """What the first statement of an event found: whether the event is new; if so its
    known sender (account, person, roles); and, for a sender who is not forgotten, their
    conversation, locked (storage/conversations.py)."""

    new: bool
    sender: tuple[ChannelAccount, Person, set[str]] | None = None
    conversation: Conversation | None = None
    touched: bool = False  # the account's last_inbound_at was brought up to date


@dataclass(frozen=True, slots=True)
class Freshness:
    """When an account's last_inbound_at is rewritten (older than `touch_after`) and when
    messages held for it are released (no message for `release_after`): see the engine."""

    touch_after: timedelta
    release_after: timedelta

    def touch(self, last: datetime | None, now: datetime) -> bool:
        return last is None or now - last > self.touch_after

    def release(self, last: datetime | None, now: datetime) -> bool:
        return last is None or now - last > self.release_after


# On PostgreSQL the first steps of an event are one statement; data-modifying CTEs run once,
# so a retry inserts nothing, finds no sender, locks and touches nothing. The sender is read in
# the statement's snapshot, before the lock is granted, as it was when these were separate;
# the account's UPDATE re-checks last_inbound_at on the row as it is when it gets the lock.
_ARRIVE = Query(
    "WITH ev AS ("
    " INSERT INTO inbound_events (channel, event_key, received_at) VALUES ($1, $2, $3)"
    " ON CONFLICT (channel, event_key) DO NOTHING RETURNING id"
    "), s AS ("
    f" SELECT {_ACCOUNT.select_as('a')}, {_PERSON.select_as('p')},"
    " (SELECT string_agg(r.role, ',') FROM roles r WHERE r.person_id = p.id) AS roles"
    " FROM channel_accounts a JOIN people p ON p.id = a.person_id"
    " WHERE a.channel = $1 AND a.platform_id = $4 AND EXISTS (SELECT 1 FROM ev)"
    "), c AS ("
    " INSERT INTO conversations (person_id, dialog, state, updated_at)"
    " SELECT p_id, NULL, $5, $3 FROM s WHERE p_forgotten_at IS NULL"
    " ON CONFLICT (person_id) DO UPDATE SET person_id = excluded.person_id"
    f" RETURNING {_CONVERSATION.select_list}"
    "), t AS ("
    " UPDATE channel_accounts SET last_inbound_at = $3"
    " WHERE id = (SELECT a_id FROM s WHERE p_forgotten_at IS NULL)"
    " AND (last_inbound_at IS NULL OR last_inbound_at < $3 - $6::interval) RETURNING id"
    "), h AS ("
    f" {release_held_sql(now='$3', channel='$1', account='$4')} AND EXISTS (SELECT 1 FROM s"
    " WHERE p_forgotten_at IS NULL"
    " AND (a_last_inbound_at IS NULL OR a_last_inbound_at < $3 - $7::interval))"
    ")"
    f" SELECT EXISTS (SELECT 1 FROM ev), {_ACCOUNT.renamed('a', 's')},"
    f" {_PERSON.renamed('p', 's')}, s.roles, {_CONVERSATION.renamed_plain('c')},"
    " EXISTS (SELECT 1 FROM t)"
    " FROM (SELECT 1) AS one LEFT JOIN s ON true LEFT JOIN c ON true",
    params=(None, None, _COLUMNS.received_at.type, None, _CONVERSATION_COLUMNS.state.type),
    columns=(None, *_ACCOUNT.types, *_PERSON.types, None, *_CONVERSATION.types, None),
)


async def arrive(
    store: Store, channel: str, event_key: str, account: str, now: datetime, fresh: Freshness
) -> Arrival:
    """The first steps of every event: remember (channel, event_key) — a platform retry stops
    here —, find the sender's account, person and roles, lock their conversation, and note
    that they wrote (`touch_account`, as `fresh` says).

    One statement on PostgreSQL; on SQLite (no data-modifying CTEs) one after the other, its
    transaction holding the write lock anyway.
    """
    sql = await raw(store)
    if not sql.is_postgres:
        if not await record_event(store, channel, event_key, now):
            return Arrival(new=False)
        sender = await find_sender(store, channel, account)
        if sender is None or sender[1].forgotten_at is not None:
            return Arrival(new=True, sender=sender)
        conversation = await lock_conversation(store, sender[1].id)
        last = sender[0].last_inbound_at
        touched = fresh.touch(last, now)
        if touched:
            await touch_account(store, sender[0], now, release_held=fresh.release(last, now))
        return Arrival(True, sender, conversation, touched)
    row = await sql.fetchrow(
        _ARRIVE, channel, event_key[:64], now, account, {}, fresh.touch_after, fresh.release_after
    )
    assert row is not None
    if not row[0]:
        return Arrival(new=False)
    start = 1
    if row[start] is None:  # no account
        return Arrival(new=True)
    found = adopt(store, ChannelAccount, _ACCOUNT.values(row, start))
    start += len(_ACCOUNT.names)
    person = adopt(store, Person, _PERSON.values(row, start))
    start += len(_PERSON.names)
    roles = row[start]
    sender = found, person, set(roles.split(",")) if roles else set()
    if row[start + 1] is None:  # forgotten: not locked
        return Arrival(new=True, sender=sender)
    conversation = adopt(store, Conversation, _CONVERSATION.values(row, start + 1))
    touched = bool(row[-1])
    if touched:
        set_committed_value(found, "last_inbound_at", now)
    return Arrival(True, sender, conversation, touched)


_TOUCH = Query(
    "UPDATE channel_accounts SET last_inbound_at = $1 WHERE id = $2",
    params=(ChannelAccount.__table__.c.last_inbound_at.type, None),
)
_RELEASE = Query(
    release_held_sql(now="$1", channel="$2", account="$3"),
    params=(OutboxMessage.__table__.c.next_attempt_at.type, None, None),
)


async def touch_account(
    store: Store, account: ChannelAccount, now: datetime, *, release_held: bool
) -> None:
    """The person wrote on this account: note when (WhatsApp's 24-hour window, the preferred
    channel), keeping the ORM object in step without a flush; with `release_held`, messages
    held back while the platform's window was closed become due now."""
    sql = await raw(store)
    await sql.execute(_TOUCH, now, account.id)
    set_committed_value(account, "last_inbound_at", now)
    if release_held:
        await sql.execute(_RELEASE, now, account.channel, account.platform_id)
