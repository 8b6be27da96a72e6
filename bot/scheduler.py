"""The scheduler tick: runs every registered periodic job (bot/registry.py), in order.

Poll opening, closing and reminding are periodic jobs like the others (dialogs/poll.py). A
plain job runs in one transaction of its own; an `EachDue` job lists its due items in a
read-only transaction and handles each in its own. Every job uses conditional updates, so
several processes may tick at once and each thing is still done exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from bot.engine import Engine
from bot.errors import StoreUnavailable
from bot.registry import EachDue, PeriodicJob

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    # Periodic job name → how many things it did this tick.
    jobs: dict[str, int] = field(default_factory=dict)


class Scheduler:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def tick(self) -> TickReport:
        report = TickReport()
        for name, job in self.engine.registry.periodic_jobs.items():
            try:
                if isinstance(job, EachDue):
                    report.jobs[name] = await self._each(name, job)
                else:
                    report.jobs[name] = await self._once(job)
            except StoreUnavailable:
                raise
            except Exception:
                # One failing job must not stop the others.
                log.exception("periodic job failed", extra={"job": name})
        if any(report.jobs.values()):
            self.engine.outbox_changed.set()
        return report

    async def _once(self, job: PeriodicJob) -> int:
        async with self.engine.db.transaction() as session:
            return await job(self.engine.services(session))

    async def _each(self, name: str, job: EachDue) -> int:
        async with self.engine.db.transaction(read_only=True) as session:
            due = list(await job.due(self.engine.services(session)))
        done = 0
        for item in due:
            try:
                async with self.engine.db.transaction() as session:
                    done += await job.each(self.engine.services(session), item)
            except StoreUnavailable:
                raise
            except Exception:
                # One failing item (a poll whose audience breaks a rule) must not hold up
                # the others; it is tried again next tick.
                log.exception("periodic job failed", extra={"job": name, "item": item})
        return done

    async def run(self, stop: asyncio.Event) -> None:
        interval = self.engine.settings.scheduler_interval_seconds
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("scheduler tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
