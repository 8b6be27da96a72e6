"""Group commit: events that arrive together share one transaction.

Each event is still handled whole and exactly once (bot/engine.py), but when many arrive at
once, a transaction's fixed costs — taking a pooled connection, BEGIN, COMMIT and the wait
for the write-ahead log to reach the disk — are paid once for a group of them instead of once
for each. A few runners (one pooled connection each) take whatever events are waiting, up to
`max_events`, and handle them one after the other, each in its own `Unit`; an event that finds
a runner free is handled at once, alone, so a quiet server waits for nothing.

An error in any event of a group (a bug, a lock deadlock, a broken connection) rolls the
whole group back, and its events are handled again one by one, each in a transaction of its
own: the others commit, and the failing one gets its own error (a 503 for the platform to
retry when the store is down). Nobody's answer is acknowledged before its commit.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from bot.metrics import EVENTS_PER_COMMIT, REGROUPED
from storage.db import Database
from storage.unit import Unit

T = TypeVar("T")
E = TypeVar("E")

# Fewer runners make larger groups (cheaper per event) but wait on the database in fewer
# places at once. bench/webhooks.py, one process, 50 requests in flight, PostgreSQL: 2 runners
# 533-666 votes/s, 3 578-669, 4 494-557, 8 464-467 (same hour, alternating runs).
RUNNERS = 3
MAX_EVENTS = 16


class GroupCommit(Generic[E, T]):
    """Hands events of type E to `handle`, each in its own Unit, committed in groups (see
    the module docstring); `submit` returns what `handle` returned for the event."""

    def __init__(
        self,
        db: Database,
        handle: Callable[[Unit, E], Awaitable[T]],
        *,
        runners: int = RUNNERS,
        max_events: int = MAX_EVENTS,
    ) -> None:
        self.db = db
        self.handle = handle
        self.runners = runners
        self.max_events = max_events
        self._waiting: deque[tuple[E, asyncio.Future[T]]] = deque()
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, event: E) -> T:
        """Handle `event` in the next group; returns once its group has committed."""
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((event, done))
        if self._running < self.runners:
            self._running += 1
            task = asyncio.create_task(self._run())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await done

    async def _run(self) -> None:
        try:
            while self._waiting:
                take = min(len(self._waiting), self.max_events)
                group = [self._waiting.popleft() for _ in range(take)]
                await self._commit(group)
        finally:
            self._running -= 1

    async def alone(self, event: E) -> T:
        """Handle `event` in a transaction of its own, now (for events that may wait on
        something slow inside their transaction, such as a download)."""
        async with self.db.event() as unit:
            result = await self.handle(unit, event)
        EVENTS_PER_COMMIT.observe(1)
        return result

    async def _commit(self, group: list[tuple[E, asyncio.Future[T]]]) -> None:
        results: list[T] = []
        try:
            async with self.db.shared() as shared:
                for event, _ in group:
                    async with shared.unit() as unit:
                        results.append(await self.handle(unit, event))
        except asyncio.CancelledError:
            for _, done in group:
                done.cancel()  # stopping: unacknowledged, the platform delivers them again
            raise
        except Exception as exc:
            if len(group) == 1:
                _settle(group[0][1], exc)
                return
            REGROUPED.inc()
            for event, done in group:
                try:
                    _settle(done, await self.alone(event))
                except Exception as again:
                    _settle(done, again)
            return
        EVENTS_PER_COMMIT.observe(len(group))
        for (_, done), result in zip(group, results, strict=True):
            _settle(done, result)


def _settle(done: asyncio.Future[T], outcome: T | Exception) -> None:
    if done.done():
        return  # its caller gave up waiting (cancelled); the event stands
    if isinstance(outcome, Exception):
        done.set_exception(outcome)
    else:
        done.set_result(outcome)
