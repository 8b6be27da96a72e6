"""The scheduler tick: opens and closes polls at their times and sends reminders.

Each due poll is handled in its own transaction with a conditional status change, so several
processes may tick at once and each poll is still opened, closed and reminded exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from bot.engine import Engine
from bot.errors import StoreUnavailable
from dialogs import poll as poll_jobs
from dialogs.base import Services
from dialogs.jobs import PERIODIC
from storage.models import Poll
from storage.polls import Polls

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    opened: int = 0
    closed: int = 0
    reminded: int = 0
    jobs: dict[str, int] = field(default_factory=dict)


class Scheduler:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def tick(self) -> TickReport:
        report = TickReport()
        now = self.engine.clock()
        async with self.engine.db.transaction(read_only=True) as session:
            polls = Polls(session)
            to_open = await polls.due_to_open(now)
            to_close = await polls.due_to_close(now)
            hours = self.engine.settings.poll_reminder_hours
            to_remind = (
                await polls.due_for_reminder(now, timedelta(hours=hours)) if hours > 0 else []
            )
        for poll_id in to_open:
            report.opened += await self._each(poll_id, poll_jobs.open_poll) > 0
        for poll_id in to_close:
            report.closed += bool(await self._each(poll_id, poll_jobs.close_poll))
        for poll_id in to_remind:
            if poll_id not in to_close:
                report.reminded += await self._each(poll_id, poll_jobs.remind_nonvoters) > 0
        for name, job in PERIODIC.items():
            try:
                async with self.engine.db.transaction() as session:
                    report.jobs[name] = await job(self.engine.services(session))
            except StoreUnavailable:
                raise
            except Exception:
                # One failing job must not stop the others (nor the poll jobs next tick).
                log.exception("periodic job failed", extra={"job": name})
        if report.opened or report.closed or report.reminded or any(report.jobs.values()):
            self.engine.outbox_changed.set()
        return report

    async def _each(
        self, poll_id: int, job: Callable[[Services, Poll], Awaitable[int | bool]]
    ) -> int:
        async with self.engine.db.transaction() as session:
            services = self.engine.services(session)
            poll = await services.polls.get(poll_id)
            return int(await job(services, poll)) if poll is not None else 0

    async def run(self, stop: asyncio.Event) -> None:
        interval = self.engine.settings.scheduler_interval_seconds
        while not stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("scheduler tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
