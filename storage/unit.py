"""What an event's code works with: a transaction on the driver connection, and an ORM session
that is only made when something needs it.

An AsyncSession costs a few hundred microseconds of CPU per transaction (its own transaction
bookkeeping, greenlet switches for connect, commit and close) — as much as the statements of a
vote together. The engine therefore runs each event in a `Unit` (`Database.event()`): a
SQLAlchemy Core connection in a transaction, the driver connection for `Raw` statements, and a
session made on first use, joined to the same transaction. Rows the hot path reads become ORM
objects without a session (detached); when a session is made they join it, and a change a
dialog made to one (a conversation's state, a person's language) is flushed like any other.

Repositories take a `Store`: a plain session (every other transaction) or a Unit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import InstanceState, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.orm.util import identity_key

from storage.raw import Raw

T = TypeVar("T")
_UNIT = "achterban_unit"
_RAW = "achterban_raw"


class Unit:
    """One event's transaction (see the module docstring); made by `Database.event()`."""

    def __init__(self, connection: AsyncConnection, driver: Any) -> None:
        self.connection = connection
        self.raw = Raw(connection.dialect, driver, self.flush)
        self._session: AsyncSession | None = None
        self._detached: dict[Any, Any] = {}
        self._states: list[InstanceState[Any]] = []

    @property
    def session(self) -> AsyncSession:
        """The ORM session in this transaction, made on first use, with the rows read through
        `Raw` so far in it (and the changes made to them)."""
        if self._session is None:
            # Bound to a connection in a transaction, the session joins it: its commit and
            # close leave the transaction to `Database.event()`.
            session = AsyncSession(
                bind=self.connection,
                expire_on_commit=False,
                join_transaction_mode="rollback_only",
            )
            session.info[_UNIT] = self
            session.add_all(self._detached.values())
            self._detached.clear()
            self._states.clear()
            self._session = session
        return self._session

    def adopt(self, cls: type[T], values: dict[str, Any]) -> T:
        """The ORM object for a row read through `Raw`: in the session if there is one, else
        detached until there is. One object per row: a row read again updates it."""
        if self._session is not None:
            return attach(self._session, cls, values)
        key = _key(cls, values)
        found = self._detached.get(key)
        if found is not None:
            for name, value in values.items():
                set_committed_value(found, name, value)
            return found  # type: ignore[no-any-return]
        obj = cls(**values)
        make_transient_to_detached(obj)
        self._detached[key] = obj
        self._states.append(instance_state(obj))
        return obj

    async def flush(self) -> None:
        """Write pending ORM changes (before a raw statement, and before commit)."""
        session = self._session
        if session is None:
            if not any(state.modified for state in self._states):
                return
            session = self.session
        elif not (session.new or session.dirty or session.deleted):
            return
        await session.flush()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


Store = AsyncSession | Unit


def session_of(store: Store) -> AsyncSession:
    return store if isinstance(store, AsyncSession) else store.session


async def raw(store: Store) -> Raw:
    """The driver connection of the store's transaction, its BEGIN sent."""
    if isinstance(store, Unit):
        return store.raw
    unit = store.info.get(_UNIT)
    if unit is not None:
        return unit.raw  # type: ignore[no-any-return]
    transaction = store.get_transaction()
    cached = store.info.get(_RAW)
    if cached is not None and transaction is not None and cached[0] is transaction:
        return cached[1]  # type: ignore[no-any-return]
    connection = await store.connection()  # begins: SQLite's hook sends BEGIN IMMEDIATE
    found = Raw(connection.dialect, await driver_in_transaction(connection), _autoflush(store))
    store.info[_RAW] = (store.get_transaction(), found)
    return found


async def driver_in_transaction(connection: AsyncConnection) -> Any:
    """The driver's connection under a SQLAlchemy connection whose transaction has begun."""
    fairy = await connection.get_raw_connection()
    if connection.dialect.name == "postgresql":
        adapted = fairy.dbapi_connection
        # SQLAlchemy's asyncpg adapter sends BEGIN lazily, before its own first statement;
        # ours come first, so start it the same way (a test shows a rollback undoes them).
        if adapted._transaction is None:  # type: ignore[union-attr]
            await adapted._start_transaction()  # type: ignore[union-attr]
    return fairy.driver_connection


def _autoflush(session: AsyncSession) -> Callable[[], Awaitable[None]]:
    async def flush() -> None:
        if session.new or session.dirty or session.deleted:
            await session.flush()

    return flush


def adopt(store: Store, cls: type[T], values: dict[str, Any]) -> T:
    """The ORM object for a row read through `Raw` (see Unit.adopt and `attach`)."""
    if isinstance(store, Unit):
        return store.adopt(cls, values)
    unit = store.info.get(_UNIT)
    if unit is not None:
        return unit.adopt(cls, values)  # type: ignore[no-any-return]
    return attach(store, cls, values)


def attach(session: AsyncSession, cls: type[T], values: dict[str, Any]) -> T:
    """An ORM object for a row read through `Raw`, in the session as if the ORM had loaded it:
    changes to it are flushed at commit. An object already in the session gets the row's
    values (as populate_existing would)."""
    existing = session.identity_map.get(_key(cls, values))
    if existing is not None:
        for name, value in values.items():
            set_committed_value(existing, name, value)
        return existing  # type: ignore[no-any-return]
    obj = cls(**values)
    make_transient_to_detached(obj)
    session.add(obj)
    return obj


def _key(cls: type[Any], values: dict[str, Any]) -> Any:
    mapper = cls.__mapper__
    return identity_key(cls, tuple(values[c.key] for c in mapper.primary_key))
