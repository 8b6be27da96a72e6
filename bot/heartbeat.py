"""A delivery worker's heartbeat: registered while it runs, so that when it dies its claimed
rows come back within a few beats, not one lease (storage/workers.py, docs/delivery.md).

Every worker beats and, at each beat, releases the rows of workers whose beat stopped: with
M workers a dead one is noticed by whichever beats first. A worker that finds it was
declared dead (it stalled longer than three beats) registers again; its old claims were
released and are fenced off from it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from storage import workers
from storage.db import Database

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(
        self,
        db: Database,
        seconds: float,
        clock: Callable[[], datetime],
        *,
        released: Callable[[int], None],
        channels: Sequence[str],
    ) -> None:
        """`released(n)` is called when rows were released (the worker wakes up to claim
        them); `channels`: the worker's, released at start on SQLite."""
        self.db = db
        self.every = timedelta(seconds=seconds)
        self.clock = clock
        self.released = released
        self.channels = list(channels)
        self.id = uuid.uuid4().hex
        self.registered = False

    async def start(self) -> None:
        """Register; on SQLite (one process owns the file) what any earlier worker held in
        these channels comes back now: a restart recovers at once."""
        try:
            n = await workers.register(
                self.db, self.id, self.clock(), sole=self.db.is_sqlite, channels=self.channels
            )
        except Exception:
            log.exception("worker registration failed: rows fall back to the lease")
            return
        self.registered = True
        if n:
            log.info("released rows of an earlier worker", extra={"rows": n})
            self.released(n)

    async def run(self, stop: asyncio.Event) -> None:
        """Beat and reap until `stop` is set; a failing store is logged and tried again."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self.every.total_seconds())
                return
            except TimeoutError:
                pass
            try:
                await self.beat()
            except Exception:
                log.exception("heartbeat failed")

    async def beat(self) -> None:
        now = self.clock()
        if not await workers.beat(self.db, self.id, now):
            log.warning("this worker was declared dead; its rows were released")
        self.registered = True
        n = await workers.reap(self.db, now, self.every)
        if n:
            log.warning("released rows of a worker whose heartbeat stopped", extra={"rows": n})
            self.released(n)

    async def stop(self) -> int:
        """Unregister; what this worker still holds goes back to the outbox now."""
        if not self.registered:
            return 0
        try:
            return await workers.unregister(self.db, self.id, self.clock())
        except Exception:
            log.exception("unregistering failed: rows come back when the heartbeat is stale")
            return 0
