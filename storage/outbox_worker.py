"""The delivery worker's side of the outbox: which implementation a database gets, and the
group commit of marks and results.

Every `sending` mark and every result of one worker goes through its `OutboxWriter`: what
arrives while a group is being written waits for the next one, which starts as soon as the
previous commits. A busy worker thus commits once per group of many rows, not twice per
message, and an idle one without delay. A group is one `DeliveryOutbox.write`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from storage.db import Database
from storage.models import utcnow
from storage.outbox import DeliveryOutbox, RowOutcome
from storage.outbox_postgres import PostgresOutbox
from storage.outbox_sqlite import SqliteOutbox


def outbox_for(db: Database) -> DeliveryOutbox:
    """The delivery outbox for `db`'s backend: the one place that chooses."""
    return SqliteOutbox(db) if db.is_sqlite else PostgresOutbox(db)


class OutboxWriter:
    def __init__(
        self,
        outbox: DeliveryOutbox,
        *,
        lease: timedelta,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.outbox = outbox
        self.lease = lease
        self.clock = clock
        self._starts: list[tuple[int, datetime, asyncio.Future[datetime | None]]] = []
        self._outcomes: list[tuple[RowOutcome, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def start_sending(self, row_id: int, token: datetime) -> datetime | None:
        """Mark the row `sending`, committed; returns its new claim token, or None when it
        is no longer this worker's to send."""
        future: asyncio.Future[datetime | None] = asyncio.get_running_loop().create_future()
        self._starts.append((row_id, token, future))
        self._kick()
        return await future

    async def finish(self, outcome: RowOutcome) -> None:
        """Record one result; returns once it is committed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._outcomes.append((outcome, future))
        self._kick()
        await future

    async def finish_all(self, outcomes: Sequence[RowOutcome]) -> None:
        if outcomes:
            await asyncio.gather(*(self.finish(o) for o in outcomes))

    def _kick(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        while self._starts or self._outcomes:
            starts, self._starts = self._starts, []
            outcomes, self._outcomes = self._outcomes, []
            now = self.clock()
            try:
                marked = await self.outbox.write(
                    [(i, t) for i, t, _ in starts],
                    [o for o, _ in outcomes],
                    now=now,
                    lease=self.lease,
                )
            except Exception as exc:  # the store failed: every waiter sees it
                for *_, future in starts:
                    _settle(future, exc)
                for _, done in outcomes:
                    _settle(done, exc)
                continue
            for row_id, _token, future in starts:
                _settle(future, None, now if row_id in marked else None)
            for _, done in outcomes:
                _settle(done, None, None)


def _settle(future: asyncio.Future[Any], exc: BaseException | None, value: Any = None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(value)
