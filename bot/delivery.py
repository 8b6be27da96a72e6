"""The delivery worker: claims outbox rows, sends them through their channel's adapter.

Sending happens outside the claiming transaction; each result is recorded right after its
send, so a crash leaves at most the row being sent in doubt (it is re-sent after the lease).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from adapters.base import Adapter
from bot.config import Settings
from bot.messages import DeliveryError, Outgoing, Recipient
from bot.metrics import SEND_FAILURES, SENT
from bot.pacing import UNLIMITED, Pacer, pacers
from storage.db import Database
from storage.models import OutboxMessage, utcnow
from storage.notify import listen_outbox
from storage.outbox import Outbox
from storage.people import Accounts

log = logging.getLogger(__name__)
MAX_BACKOFF = timedelta(hours=1)


def backoff(attempt: int, base_seconds: float) -> timedelta:
    """Exponential backoff with jitter (50–150 %), capped at an hour."""
    seconds = base_seconds * (2 ** max(0, attempt - 1)) * random.uniform(0.5, 1.5)
    return min(timedelta(seconds=seconds), MAX_BACKOFF)


class DeliveryWorker:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        adapters: Mapping[str, Adapter],
        *,
        accounts: Sequence[str] | None = None,
        clock: Callable[[], datetime] = utcnow,
        wake: asyncio.Event | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.adapters = dict(adapters)
        self.accounts = list(accounts) if accounts is not None else None
        self.clock = clock
        self.wake = wake or asyncio.Event()
        self.pacers = pacers(settings.rate_limits)

    async def run_once(self) -> int:
        """Claim one batch and send it; returns how many rows were attempted."""
        channels = [c for c in self.adapters if not self._pacer(c).paused_for()]
        if not channels:
            return 0
        async with self.db.transaction() as session:
            rows = await Outbox(session).claim(
                channels,
                now=self.clock(),
                limit=self.settings.delivery_batch_size,
                lease=timedelta(seconds=self.settings.delivery_lease_seconds),
                accounts=self.accounts,
            )
            recipients = await Accounts(session).recipients(
                [(row.channel, row.account) for row in rows]
            )
        for row in rows:
            await self._deliver(row, recipients.get((row.channel, row.account)))
        return len(rows)

    async def drain(self) -> int:
        """Send everything due now (used by the terminal channel and tests)."""
        total = 0
        while n := await self.run_once():
            total += n
        return total

    @staticmethod
    def _fallback(row: OutboxMessage) -> Recipient:
        # No channel account: the engine's answer to a refused sender, written in the same
        # transaction as their message (so its time is when they last wrote), with the
        # platform reference it needs (Teams).
        return Recipient(
            row.account,
            conversation_ref=row.recipient_ref,
            last_inbound_at=row.created_at if row.person_id is None else None,
        )

    def _pacer(self, channel: str) -> Pacer:
        return self.pacers.setdefault(channel, Pacer(UNLIMITED))

    async def _deliver(self, row: OutboxMessage, recipient: Recipient | None) -> None:
        adapter = self.adapters[row.channel]
        pacer = self._pacer(row.channel)
        if paused := pacer.paused_for():
            # The platform asked us to slow down while this batch was claimed.
            async with self.db.transaction() as session:
                await Outbox(session).release(row.id, at=self.clock() + timedelta(seconds=paused))
            return
        await pacer.wait(row.account)
        try:
            if row.payload is None:
                raise DeliveryError("message body missing", permanent=True)
            rendered = adapter.render(Outgoing.from_json(row.payload))
            result = await adapter.send(recipient or self._fallback(row), rendered)
        except DeliveryError as exc:
            await self._failed(row, exc)
            return
        except Exception as exc:  # a bug or network error in an adapter: retry, log once
            log.warning(
                "send failed",
                extra={"channel": row.channel, "outbox_id": row.id, "error": type(exc).__name__},
            )
            await self._failed(row, DeliveryError(f"{type(exc).__name__}: {exc}"[:300]))
            return
        SENT.labels(row.channel).inc()
        async with self.db.transaction() as session:
            mark = Outbox(session).mark_held if result.held else Outbox(session).mark_sent
            await mark(row.id, now=self.clock(), platform_message_id=result.platform_message_id)

    async def _failed(self, row: OutboxMessage, exc: DeliveryError) -> None:
        SEND_FAILURES.labels(row.channel, str(exc.permanent).lower()).inc()
        async with self.db.transaction() as session:
            outbox = Outbox(session)
            if exc.permanent or row.attempts >= self.settings.delivery_max_attempts:
                await outbox.mark_failed(row.id, error=exc.reason)
                return
            if exc.retry_after is not None:
                delay = timedelta(seconds=exc.retry_after)
                scope = row.account if exc.extra.get("scope") == "conversation" else None
                self._pacer(row.channel).pause(exc.retry_after, scope)
            else:
                delay = backoff(row.attempts, self.settings.delivery_backoff_seconds)
            await outbox.mark_retry(row.id, error=exc.reason, at=self.clock() + delay)

    async def run(self, stop: asyncio.Event, idle_seconds: float = 1.0) -> None:
        """Deliver until `stop` is set; sleeps when idle until woken (by this process's engine
        or, on PostgreSQL, by NOTIFY from any process) or `idle_seconds` pass."""
        async with listen_outbox(self.db, self.wake):
            await self._loop(stop, idle_seconds)

    async def _loop(self, stop: asyncio.Event, idle_seconds: float) -> None:
        while not stop.is_set():
            try:
                sent = await self.run_once()
            except Exception:
                log.exception("delivery round failed")
                sent = 0
            if sent:
                continue
            self.wake.clear()
            waiters = [asyncio.ensure_future(self.wake.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(waiters, timeout=idle_seconds, return_when=asyncio.FIRST_COMPLETED)
            for w in waiters:
                w.cancel()
