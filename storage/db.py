"""Database engine and the one way to open a transaction.

SQLite needs care to behave like a store with row locks: pysqlite delays BEGIN until the first
write, so two transactions can both read and then fail on upgrade ("database is locked").
Following SQLAlchemy's SQLite dialect docs we take over BEGIN and start every writing
transaction with BEGIN IMMEDIATE (the write lock up front); inside one process an asyncio
lock queues writers so they never spin on the busy timeout. Other processes (many `achterban
chat` terminals) wait on the busy timeout. PostgreSQL uses real row locks instead.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
from sqlalchemy.exc import DataError as SQLAlchemyDataError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.errors import StoreUnavailable, Unstorable
from storage.unit import Unit, driver_in_transaction

SQLITE_BUSY_TIMEOUT_MS = 30_000
POOL_SIZE = 30
_READ_ONLY = "achterban_read_only"


def _unavailable(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) says the store cannot be reached or opened: the
    server down or refusing connections, a wrong database name or password, too many
    connections, a SQLite file that cannot be opened or is no database, the pool exhausted.
    Each is an outage for whoever asked (503, retry later), never their fault."""
    for link in _chain(exc):
        if isinstance(link, _UNREACHABLE):
            return True
        if isinstance(link, DBAPIError) and link.connection_invalidated:
            return True
        if type(link) is sqlite3.DatabaseError:
            return True  # "file is not a database", "database disk image is malformed"
    return False


def _unstorable(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) says the store refused a value: too long for its
    column, a number out of range, text it cannot encode. Such a value came from outside
    and the whole transaction is rolled back, so it is refused (400), not a 500."""
    return any(isinstance(link, _UNSTORABLE) for link in _chain(exc))


def _chain(exc: BaseException, limit: int = 8) -> list[BaseException]:
    """`exc`, the driver error SQLAlchemy wraps, and their causes (a few links deep)."""
    seen: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and len(seen) < limit and link not in seen:
        seen.append(link)
        orig = getattr(link, "orig", None)
        link = orig if isinstance(orig, BaseException) and orig not in seen else link.__cause__
    return seen


def _mapped(exc: Exception) -> Exception:
    """The project's error for a failure of the store, or `exc` itself."""
    message = str(exc).splitlines()[0] if str(exc) else repr(exc)
    if _unavailable(exc):
        return StoreUnavailable(message)
    if _unstorable(exc):
        return Unstorable(type(exc).__name__)
    return exc


# What the driver (or SQLAlchemy's adapter of it, which starts the transaction for us) raises
# when the connection broke; SQLAlchemy sees none of it (storage/raw.py).
_DRIVER_DISCONNECT = (
    asyncpg.exceptions.InterfaceError,  # the connection is closed
    asyncpg.exceptions.InternalClientError,  # the protocol is in an unexpected state
    asyncpg.PostgresConnectionError,  # class 08: the connection broke
    asyncpg.exceptions.OperatorInterventionError,  # class 57: shutdown, cancelled, …
    AsyncAdapt_asyncpg_dbapi.InterfaceError,
    AsyncAdapt_asyncpg_dbapi.InternalClientError,
    AsyncAdapt_asyncpg_dbapi.OperationalError,
)
_UNREACHABLE = (
    *_DRIVER_DISCONNECT,
    OperationalError,
    InterfaceError,
    SQLAlchemyTimeoutError,  # no connection free in the pool within its timeout
    asyncpg.exceptions.InvalidCatalogNameError,  # 3D000: no database of that name
    asyncpg.exceptions.InvalidAuthorizationSpecificationError,  # class 28: login refused
    asyncpg.exceptions.InsufficientResourcesError,  # class 53: too many connections, disk full
    sqlite3.OperationalError,  # unable to open, locked, disk I/O error
    OSError,  # connection refused, unknown host, timeouts (TimeoutError is an OSError)
)
_UNSTORABLE = (
    asyncpg.exceptions.DataError,  # class 22: too long, out of range, untranslatable
    SQLAlchemyDataError,
    OverflowError,  # sqlite3: "Python int too large to convert to SQLite INTEGER"
    UnicodeEncodeError,  # a lone surrogate, from a JSON "\ud800" escape
)


class SharedTransaction:
    """A transaction that events use one after the other, each through its own `Unit`."""

    def __init__(self, connection: AsyncConnection, driver: Any) -> None:
        self._connection = connection
        self._driver = driver

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[Unit]:
        """One event's part: its changes flushed when the block ends (not committed)."""
        unit = Unit(self._connection, self._driver)
        try:
            yield unit
            await unit.flush()
        finally:
            await unit.close()


# PgBouncer in transaction mode (`?pgbouncer=transaction` on the URL, docs/deployment.md): a
# statement's server connection may differ from the last one's, so no named prepared statement
# may outlive its statement: asyncpg's cache off, SQLAlchemy's off, and SQLAlchemy's statements
# unnamed (""): asyncpg then sends each one's Parse again with its Bind, in one round trip.
# Named ones (even uniquely named) stayed behind on PgBouncer's server connections, never
# deallocated: 51 on 4 of them after 60 voters (tests/scale/test_pgbouncer_real.py).
PGBOUNCER_CONNECT_ARGS: dict[str, Any] = {
    "statement_cache_size": 0,
    "prepared_statement_cache_size": 0,
    "prepared_statement_name_func": lambda: "",
}


def split_pgbouncer(url: str) -> tuple[str, bool]:
    """The URL without our `pgbouncer=transaction` parameter, and whether it was there."""
    for sep in ("?", "&"):
        flag = f"{sep}pgbouncer=transaction"
        if flag in url:
            rest = url.replace(flag, "", 1)
            if sep == "?" and "&" in rest and "?" not in rest:
                rest = rest.replace("&", "?", 1)
            return rest, True
    return url, False


class Database:
    """Owns the engine; `transaction()` is the unit of work for one event or job."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = POOL_SIZE) -> None:
        url, self.behind_pgbouncer = split_pgbouncer(url)
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}  # no values in logs
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        else:
            # No pre-ping (three round trips per transaction): a dead connection fails the
            # transaction with StoreUnavailable (503, the platform retries) and SQLAlchemy
            # invalidates the pool on disconnect errors. No overflow: under a steady load
            # above the pool's size, overflow connections are opened and closed again every
            # few events (a new backend each time), which cost more CPU than the votes
            # (bench/webhooks.py: 260 → 420 votes/s without them); events wait for one of
            # the pool's connections instead.
            kwargs.update(pool_size=pool_size, max_overflow=0, pool_recycle=1800, pool_timeout=10)
            if self.behind_pgbouncer:
                kwargs["connect_args"] = PGBOUNCER_CONNECT_ARGS
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            _install_sqlite_hooks(self.engine)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self, *, read_only: bool = False) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back on any error.

        Connection failures surface as StoreUnavailable, with nothing half-written.
        """
        async with (
            self._guarded(None if read_only else self._write_lock),
            self.sessions() as session,
            session.begin(),
        ):
            if read_only and self.is_sqlite:
                # Set before the connection's BEGIN is emitted (see _on_begin).
                await session.connection(execution_options={_READ_ONLY: True})
            yield session

    @asynccontextmanager
    async def _guarded(self, lock: asyncio.Lock | None) -> AsyncIterator[None]:
        """Holds SQLite's in-process write lock (when given) around a transaction, and turns
        the driver's failures into StoreUnavailable / Unstorable, for every way in."""
        try:
            if lock is not None:
                await lock.acquire()
            try:
                yield
            finally:
                if lock is not None:
                    lock.release()
        except (StoreUnavailable, Unstorable):
            raise
        except Exception as exc:
            mapped = _mapped(exc)
            if mapped is not exc:
                raise mapped from exc
            raise

    @asynccontextmanager
    async def event(self) -> AsyncIterator[Unit]:
        """One event's transaction as a `Unit` (storage/unit.py): statements on the driver
        connection, an ORM session only when something needs one. Committed when the block
        ends, rolled back on any error; failures of the store surface as StoreUnavailable."""
        async with self.shared() as shared, shared.unit() as unit:
            yield unit

    @asynccontextmanager
    async def shared(self) -> AsyncIterator[SharedTransaction]:
        """One transaction for several events, one `Unit` after the other (group commit, see
        bot/group_commit.py). Committed when the block ends, rolled back on any error;
        failures of the store surface as StoreUnavailable."""
        async with self._guarded(self._write_lock), self.engine.connect() as connection:
            try:
                async with connection.begin():
                    driver = await driver_in_transaction(connection)
                    yield SharedTransaction(connection, driver)
            except _DRIVER_DISCONNECT:
                # What SQLAlchemy does on a disconnect it sees: this connection is not given
                # back, and the pool's others (probably broken too: a restart) are replaced as
                # they come back.
                if not connection.invalidated:
                    await connection.invalidate()
                await self.engine.dispose(close=False)
                raise

    @asynccontextmanager
    async def driver(self) -> AsyncIterator[Any]:
        """A pooled connection's driver connection (asyncpg), outside any transaction of
        SQLAlchemy's: for the delivery worker's hot path on PostgreSQL, where a group commit
        is one statement in its own transaction (storage/outbox_postgres.py). SQLAlchemy does
        not see the driver's errors: a connection that broke is invalidated here, or the pool
        would hand it out again; failures of the store surface as StoreUnavailable."""
        async with self._guarded(None), self.engine.connect() as connection:
            conn: Any = (await connection.get_raw_connection()).driver_connection
            try:
                yield conn
            except BaseException as exc:
                if conn.is_closed() or isinstance(exc, _DRIVER_DISCONNECT):
                    if not connection.invalidated:
                        await connection.invalidate()
                    await self.engine.dispose(close=False)
                raise

    async def ping(self) -> None:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            raise StoreUnavailable(type(exc).__name__) from exc

    async def dispose(self) -> None:
        await self.engine.dispose()


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us emit BEGIN ourselves (see module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
