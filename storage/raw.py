"""Plain SQL on the transaction's own driver connection, for the statements every event runs.

Through SQLAlchemy a statement costs some 0.15–0.25 ms of CPU (cache key, execution context,
greenlet switches, ORM loading and flushing); through the driver (asyncpg, aiosqlite) about
0.03 ms. Every inbound event runs eight to ten statements, so on the hot path (dedupe, sender,
conversation lock, prompt, vote, tally, outbox) the repositories speak to the driver directly —
inside the same transaction as anything the ORM does in that event, so commit and rollback
stay one. What stays on SQLAlchemy's side:

- the transaction itself (BEGIN / BEGIN IMMEDIATE, COMMIT, ROLLBACK, the pool);
- type conversion: parameters and result columns go through the SQLAlchemy types' own
  processors for the dialect, so a value reads and writes the same either way;
- the ORM's view: pending ORM changes are flushed before a raw statement (as autoflush
  would), and rows read here become ORM objects that a dialog can change, flushed as usual
  (storage/unit.py).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

Processor = Callable[[Any], Any] | None
_PLACEHOLDER = re.compile(r"\$(\d+)")
# Rows from which a PostgreSQL insert is a COPY (its first use per table costs a round trip
# to learn the column types; an event's few replies stay one pipelined executemany).
_COPY_FROM = 100


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    # (position, converter) for the values that need one; the others pass as they are.
    binds: tuple[tuple[int, Callable[[Any], Any]], ...]
    results: tuple[tuple[int, Callable[[Any], Any]], ...]


@dataclass(eq=False)
class Query:
    """One statement: SQL with PostgreSQL's $1, $2 … placeholders (?1, ?2 … for SQLite), the
    SQLAlchemy types of its parameters and result columns (None: as the driver has it), and
    SQLite's own text where the two differ."""

    text: str
    params: tuple[TypeEngine[Any] | None, ...] = ()
    columns: tuple[TypeEngine[Any] | None, ...] = ()
    sqlite: str | None = None
    _compiled: dict[str, _Compiled] = field(default_factory=dict, repr=False)

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            if dialect.name == "sqlite":
                sql = _PLACEHOLDER.sub(r"?\1", self.sqlite or self.text)
            else:
                sql = self.text
            binds = _only_some(_bind(t, dialect) for t in self.params)
            results = _only_some(_result(t, dialect) for t in self.columns)
            found = _Compiled(sql, binds, results)
            self._compiled[dialect.name] = found
        return found


def _only_some(
    processors: Iterable[Processor],
) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
    return tuple((i, p) for i, p in enumerate(processors) if p is not None)


def _bind(type_: TypeEngine[Any] | None, dialect: Dialect) -> Processor:
    return None if type_ is None else type_.dialect_impl(dialect).bind_processor(dialect)


def _result(type_: TypeEngine[Any] | None, dialect: Dialect) -> Processor:
    return None if type_ is None else type_.dialect_impl(dialect).result_processor(dialect, None)


@dataclass(frozen=True, slots=True)
class Shape:
    """A table's columns as `Raw` reads them: the SELECT list (with a table alias) and the
    types, so rows become ORM objects with `attach` or plain dicts with `values`."""

    table: Table
    alias: str  # "" for unqualified names (RETURNING)
    names: tuple[str, ...]
    types: tuple[TypeEngine[Any], ...]

    @classmethod
    def of(cls, table: Table, alias: str = "") -> Shape:
        columns = list(table.columns)
        return cls(table, alias, tuple(c.key for c in columns), tuple(c.type for c in columns))

    @property
    def select_list(self) -> str:
        prefix = f"{self.alias}." if self.alias else ""
        return ", ".join(prefix + name for name in self.names)

    def select_as(self, prefix: str) -> str:
        """The SELECT list with each column renamed `<prefix>_<name>` (CTEs of joins)."""
        return ", ".join(f"{self.alias}.{n} AS {prefix}_{n}" for n in self.names)

    def renamed(self, prefix: str, alias: str) -> str:
        """Columns that `select_as` renamed, read from `alias`."""
        return ", ".join(f"{alias}.{prefix}_{n}" for n in self.names)

    def renamed_plain(self, alias: str) -> str:
        """The columns as they are, read from `alias`."""
        return ", ".join(f"{alias}.{n}" for n in self.names)

    def values(self, row: Sequence[Any], start: int = 0) -> dict[str, Any]:
        return dict(zip(self.names, row[start : start + len(self.names)], strict=True))


class Raw:
    """The driver connection of one transaction (see the module docstring). `autoflush` is
    awaited before each statement: pending ORM changes reach the database first, as the ORM's
    own autoflush does before a query."""

    def __init__(
        self, dialect: Dialect, driver: Any, autoflush: Callable[[], Awaitable[None]]
    ) -> None:
        self.dialect = dialect
        self.driver = driver
        self.is_postgres = dialect.name == "postgresql"
        self._autoflush = autoflush

    async def fetch(self, query: Query, *args: Any) -> list[Sequence[Any]]:
        compiled = query.compiled(self.dialect)
        await self._autoflush()
        params = _apply(compiled.binds, args)
        if self.is_postgres:
            rows: list[Sequence[Any]] = await self.driver.fetch(compiled.sql, *params)
        else:
            rows = list(await self.driver.execute_fetchall(compiled.sql, params))
        if not compiled.results:
            return rows
        return [_apply(compiled.results, row) for row in rows]

    async def fetchrow(self, query: Query, *args: Any) -> Sequence[Any] | None:
        rows = await self.fetch(query, *args)
        return rows[0] if rows else None

    async def execute(self, query: Query, *args: Any) -> None:
        await self.fetch(query, *args)

    async def insert(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """INSERT rows that all have the same keys; the model's Python-side column defaults
        (status, timestamps …) fill what a row leaves out, as the ORM would."""
        if not rows:
            return
        keys = tuple(rows[0])
        insert = _insert_query(table, keys)
        await self._autoflush()
        compiled = insert.query.compiled(self.dialect)
        binds = _shared(compiled.binds)
        params = [
            _apply(binds, [*(row[k] for k in keys), *(d(row) for d in insert.defaults)])
            for row in rows
        ]
        if not self.is_postgres:
            await self.driver.executemany(compiled.sql, params)
        elif len(params) == 1:
            await self.driver.execute(compiled.sql, *params[0])
        elif len(params) < _COPY_FROM:
            await self.driver.executemany(compiled.sql, params)
        else:
            # COPY: one stream instead of a statement per row, with the same triggers and
            # constraints: a poll to 100,000 people queued in 6.4 s instead of 8.3 s.
            await self.driver.copy_records_to_table(
                table.name, records=params, columns=insert.columns
            )


Default = Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class _Insert:
    query: Query
    columns: tuple[str, ...]  # the given keys' columns, then the defaulted ones
    defaults: tuple[Default, ...]


_INSERTS: dict[tuple[str, tuple[str, ...]], _Insert] = {}


def _insert_query(table: Table, keys: tuple[str, ...]) -> _Insert:
    """INSERT for these keys plus the columns with a Python-side default; made once."""
    found = _INSERTS.get((table.name, keys))
    if found is None:
        columns = [table.c[k] for k in keys]
        defaulted = [
            c for c in table.columns
            if c.key not in keys and c.default is not None and not c.primary_key
        ]  # fmt: skip
        names = tuple(c.name for c in [*columns, *defaulted])
        marks = ", ".join(f"${i}" for i in range(1, len(names) + 1))
        query = Query(
            f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})",
            params=tuple(c.type for c in [*columns, *defaulted]),
        )
        defaults = tuple(_default_of(c.default, f"{table.name}.{c.key}") for c in defaulted)
        found = _INSERTS[(table.name, keys)] = _Insert(query, names, defaults)
    return found


class _Context:
    """What a column default may ask of SQLAlchemy's execution context: the row's values
    (outbox.about_kind is read from the row's prompt, storage/prompt_items.py)."""

    def __init__(self, row: Mapping[str, Any]) -> None:
        self.row = row

    def get_current_parameters(self) -> Mapping[str, Any]:
        return self.row


def _default_of(default: Any, name: str) -> Default:
    if default.is_callable:
        # SQLAlchemy wraps callables to take a context
        return lambda row: default.arg(_Context(row))
    if default.is_scalar:
        return lambda row: default.arg
    raise ValueError(f"{name}: a default that is not a value cannot be used here")


def _shared(
    processors: tuple[tuple[int, Callable[[Any], Any]], ...],
) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
    """The processors of one multi-row insert, each converting a value that many rows share
    only once: a fan-out to 100,000 people gives every row of a language the same payload
    dict, and serialising it once instead of 100,000 times was a tenth of the queueing."""

    def once(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
        # Keyed by identity: the rows keep every value alive until the insert is done.
        done: dict[int, Any] = {}

        def convert(value: Any) -> Any:
            if not isinstance(value, dict | list):
                return process(value)
            key = id(value)
            if key not in done:
                done[key] = process(value)
            return done[key]

        return convert

    return tuple((i, once(p)) for i, p in processors)


def _apply(
    processors: tuple[tuple[int, Callable[[Any], Any]], ...], values: Sequence[Any]
) -> Sequence[Any]:
    if not processors:
        return values
    out = list(values)
    for i, process in processors:
        out[i] = process(out[i])
    return out
