"""The delivery worker: claims outbox rows and sends them through their channel's adapter.

Rows are claimed per channel and sent concurrently, one person's messages in order, paced to
the platform's limits (bot/pacing.py); marks and results go in group commits. A row is marked
`sending` right before its request leaves; rows of a worker that died come back after the
lease, and a `sending` one (in doubt) is first looked up on the platform where the adapter can
(`Reconcilable`), else sent again — the one window left. See docs/delivery.md.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter as Tally
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from prometheus_client import Counter

from adapters.base import Adapter
from bot.config import Settings
from bot.messages import DeliveryError, Outgoing, Recipient, SendResult
from bot.metrics import SEND_FAILURES, SENT
from bot.pacing import UNLIMITED, Pacer, pacers
from storage.db import Database
from storage.models import OutboxMessage, utcnow
from storage.notify import listen_outbox
from storage.outbox import SENDING, Outbox, OutboxWriter, Outcome
from storage.people import Accounts

log = logging.getLogger(__name__)
MAX_BACKOFF = timedelta(hours=1)
# Sends in flight per channel and worker: enough to fill Twilio's 80/s at 200 ms a request.
DEFAULT_CONCURRENCY = 32
# A pause (429) longer than this gives the rows back to the outbox rather than holding them.
HOLD_PAUSE_SECONDS = 2.0
# An empty channel is asked again at most this often when woken.
WAKE_DEBOUNCE = 0.05
IN_DOUBT = Counter(
    "achterban_sends_in_doubt_total",
    "Rows whose send may have reached the platform when its worker stopped",
    ["channel", "outcome"],  # found | absent | resent (no lookup) | lookup_failed
)


@runtime_checkable
class Reconcilable(Protocol):
    """An adapter that tags each message with the outbox key and can look it up later."""

    async def send(self, recipient: Recipient, rendered: Any, *, key: str) -> SendResult:
        """Send, tagging the message with `key` where the platform keeps such a tag."""

    async def reconcile(
        self, recipient: Recipient, rendered: Any, key: str, since: datetime
    ) -> SendResult | None:
        """The message as the platform has it (sent at or after `since`), or None when the
        platform has none of it. Raises DeliveryError when the lookup itself fails."""


def delivery_key(row: OutboxMessage) -> str:
    """Stable across attempts and unique across databases that reuse ids (a restore)."""
    return f"{row.id}-{int(row.created_at.timestamp())}"


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
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self.db = db
        self.settings = settings
        self.adapters = dict(adapters)
        # Checked once: a runtime-checkable Protocol's isinstance is slow.
        self.reconcilers: dict[str, Reconcilable] = {}
        for channel, adapter in adapters.items():
            if isinstance(adapter, Reconcilable):
                self.reconcilers[channel] = adapter
        self.accounts = list(accounts) if accounts is not None else None
        self.clock = clock
        self.wake = wake or asyncio.Event()
        self.pacers = pacers(settings.rate_limits)
        self.lease = timedelta(seconds=settings.delivery_lease_seconds)
        self.writer = OutboxWriter(db, lease=self.lease, clock=clock)
        self.concurrency = concurrency
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._held: Tally[str] = Tally()  # rows in memory per channel
        self._progress = asyncio.Event()

    # -- claiming ------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Claim one batch and send it; returns how many rows were attempted."""
        channels = self._open_channels()
        if not channels:
            return 0
        rows, recipients = await self._claim(channels, self.settings.delivery_batch_size)
        await self._deliver_all(rows, recipients)
        return len(rows)

    async def drain(self) -> int:
        """Send everything due now (used by the terminal channel and tests)."""
        total = 0
        while n := await self.run_once():
            total += n
        return total

    def _open_channels(self) -> list[str]:
        return [c for c in self.adapters if not self._pacer(c).paused_for()]

    async def _claim(
        self, channels: Sequence[str], limit: int
    ) -> tuple[list[OutboxMessage], dict[tuple[str, str], Recipient]]:
        async with self.db.transaction() as session:
            rows = await Outbox(session).claim(
                channels, now=self.clock(), limit=limit, lease=self.lease, accounts=self.accounts
            )
            recipients = await Accounts(session).recipients([(r.channel, r.account) for r in rows])
        for row in rows:
            self._held[row.channel] += 1
        return rows, recipients

    # -- sending -------------------------------------------------------------------------

    async def _deliver_all(
        self, rows: Sequence[OutboxMessage], recipients: Mapping[tuple[str, str], Recipient]
    ) -> None:
        """One lane per person: their rows in order, the lanes side by side."""
        lanes: dict[tuple[str, str], list[OutboxMessage]] = defaultdict(list)
        for row in rows:
            lanes[(row.channel, row.account)].append(row)
        await asyncio.gather(*(self._lane(lane, recipients.get(k)) for k, lane in lanes.items()))

    async def _lane(self, rows: list[OutboxMessage], recipient: Recipient | None) -> None:
        for i, row in enumerate(rows):
            try:
                go_on = await self._deliver(row, recipient)
            except Exception:
                # The store failed: what this worker holds comes back after the lease.
                log.exception(
                    "delivery failed", extra={"channel": row.channel, "outbox_id": row.id}
                )
                self._forget(rows[i:])
                return
            self._forget([row])
            if not go_on:
                rest = rows[i + 1 :]
                try:
                    await self._give_back(rest)
                except Exception:
                    log.exception("giving rows back failed", extra={"channel": row.channel})
                self._forget(rest)
                return

    def _forget(self, rows: Sequence[OutboxMessage]) -> None:
        for row in rows:
            self._held[row.channel] -= 1
        self._progress.set()

    async def _give_back(self, rows: Sequence[OutboxMessage]) -> None:
        """Rows of a lane that stopped (a pause, an earlier row in doubt) go back unsent."""
        if rows:
            pause = self._pacer(rows[0].channel).paused_for(rows[0].account)
            at = self.clock() + timedelta(seconds=pause)
            for row in rows:
                await self.writer.finish(_back(row, at))

    async def _deliver(self, row: OutboxMessage, recipient: Recipient | None) -> bool:
        """Send one row; False stops the rest of its lane (they are given back)."""
        adapter = self.adapters[row.channel]
        reconciler = self.reconcilers.get(row.channel)
        token = row.claimed_at
        assert token is not None  # set by the claim
        try:
            if row.payload is None:
                raise DeliveryError("message body missing", permanent=True)
            rendered = adapter.render(Outgoing.from_json(row.payload))
        except DeliveryError as exc:
            return await self._failed(row, token, exc, keyed=False)
        target = recipient or _fallback(row)
        if row.status == SENDING:
            settled = await self._reconcile(reconciler, row, token, target, rendered)
            if settled is not None:
                return settled
        pacer = self._pacer(row.channel)
        ready = await pacer.conversation_ready(row.account, give_up_after=HOLD_PAUSE_SECONDS)
        async with self._slot(row.channel):
            if not (ready and await pacer.wait(row.account, give_up_after=HOLD_PAUSE_SECONDS)):
                # The platform asked us to slow down: hand the row back rather than hold it.
                await self.writer.finish(_back(row, self._after(pacer.paused_for(row.account))))
                return False
            if row.status != SENDING:
                new_token = await self.writer.start_sending(row.id, token)
                if new_token is None:
                    return True  # another worker took it over, or it was withdrawn
                token = new_token
            try:
                if reconciler is not None:
                    result = await reconciler.send(target, rendered, key=delivery_key(row))
                else:
                    result = await adapter.send(target, rendered)
            except DeliveryError as exc:
                return await self._failed(row, token, exc, keyed=reconciler is not None)
            except Exception as exc:  # a bug or network error in an adapter: retry, log once
                what = {"channel": row.channel, "outbox_id": row.id, "error": type(exc).__name__}
                log.warning("send failed", extra=what)
                reason = f"{type(exc).__name__}: {exc}"[:300]
                error = DeliveryError(reason, extra={"in_doubt": True})
                return await self._failed(row, token, error, keyed=reconciler is not None)
        SENT.labels(row.channel).inc()
        await self.writer.finish(_result(row, token, result, self.clock()))
        return True

    async def _reconcile(
        self,
        reconciler: Reconcilable | None,
        row: OutboxMessage,
        token: datetime,
        target: Recipient,
        rendered: Any,
    ) -> bool | None:
        """A row in doubt: ask the platform where it can tell. None: (re)send it now."""
        if reconciler is None:
            IN_DOUBT.labels(row.channel, "resent").inc()
            log.warning("in doubt and no lookup: sent again", extra={"outbox_id": row.id})
            return None
        try:
            found = await reconciler.reconcile(
                target, rendered, delivery_key(row), row.next_attempt_at
            )
        except DeliveryError as exc:
            IN_DOUBT.labels(row.channel, "lookup_failed").inc()
            SEND_FAILURES.labels(row.channel, str(exc.permanent).lower()).inc()
            reason = f"in doubt, lookup failed: {exc.reason}"
            if exc.permanent or row.attempts >= self.settings.delivery_max_attempts:
                await self.writer.finish(Outcome("failed", row.id, token, error=reason))
                return True
            # Only the lookup was refused (its own rate limit): sending is not paused.
            wait = exc.retry_after
            at = self._after(wait) if wait is not None else self._backoff(row)
            await self.writer.finish(Outcome("doubt", row.id, token, at=at, error=reason))
            return False
        if found is None:
            IN_DOUBT.labels(row.channel, "absent").inc()
            return None
        IN_DOUBT.labels(row.channel, "found").inc()
        await self.writer.finish(_result(row, token, found, self.clock()))
        return True

    async def _failed(
        self, row: OutboxMessage, token: datetime, exc: DeliveryError, *, keyed: bool
    ) -> bool:
        """Record a failed attempt: permanent → failed with the reason; 429 → pause and
        retry after Retry-After; otherwise retry with backoff — still in doubt when the
        request may have arrived and the platform can be asked before the next attempt."""
        SEND_FAILURES.labels(row.channel, str(exc.permanent).lower()).inc()
        if exc.permanent or row.attempts >= self.settings.delivery_max_attempts:
            await self.writer.finish(Outcome("failed", row.id, token, error=exc.reason))
            return True
        if exc.retry_after is not None:
            scope = row.account if exc.extra.get("scope") == "conversation" else None
            self._pacer(row.channel).pause(exc.retry_after, scope)
            at = self._after(exc.retry_after)
            await self.writer.finish(Outcome("retry", row.id, token, at=at, error=exc.reason))
            return False
        at = self._backoff(row)
        if keyed and exc.extra.get("in_doubt"):
            await self.writer.finish(Outcome("doubt", row.id, token, at=at, error=exc.reason))
            return False  # the person's next messages wait until this one is settled
        await self.writer.finish(Outcome("retry", row.id, token, at=at, error=exc.reason))
        return True

    def _after(self, seconds: float) -> datetime:
        return self.clock() + timedelta(seconds=seconds)

    def _backoff(self, row: OutboxMessage) -> datetime:
        return self.clock() + backoff(row.attempts, self.settings.delivery_backoff_seconds)

    def _pacer(self, channel: str) -> Pacer:
        return self.pacers.setdefault(channel, Pacer(UNLIMITED))

    def _slot(self, channel: str) -> asyncio.Semaphore:
        if channel not in self._slots:
            self._slots[channel] = asyncio.Semaphore(self.concurrency)
        return self._slots[channel]

    # -- running -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, idle_seconds: float = 1.0) -> None:
        """Deliver until `stop` is set; sleeps when idle until woken (by this process's engine
        or, on PostgreSQL, by NOTIFY from any process) or `idle_seconds` pass."""
        async with listen_outbox(self.db, self.wake):
            await self._loop(stop, idle_seconds)

    async def _loop(self, stop: asyncio.Event, idle_seconds: float) -> None:
        """Keep rows in hand per channel, claiming more when half are done, so a slow
        channel never holds up a fast one. A channel found empty is asked again when woken
        (at most every WAKE_DEBOUNCE seconds: on PostgreSQL every outbox write notifies) or
        after `idle_seconds`."""
        tasks: set[asyncio.Task[None]] = set()
        drained: dict[str, float] = {}  # channel → when a claim found no more due rows
        woken_at = 0.0
        try:
            while not stop.is_set():
                self._progress.clear()
                now = time.monotonic()
                for channel, since in list(drained.items()):
                    if now - since >= idle_seconds or (
                        woken_at >= since and now - since >= WAKE_DEBOUNCE
                    ):
                        del drained[channel]
                claimed = 0
                for channel in self._open_channels():
                    cap = self._cap(channel)
                    room = cap - self._held[channel]
                    if channel in drained or room < max(1, cap // 2):
                        continue
                    try:
                        rows, recipients = await self._claim([channel], room)
                    except Exception:
                        log.exception("claiming failed", extra={"channel": channel})
                        rows, recipients = [], {}
                    if len(rows) < room:
                        drained[channel] = time.monotonic()
                    if rows:
                        claimed += len(rows)
                        task = asyncio.create_task(self._deliver_all(rows, recipients))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
                if claimed:
                    continue
                await _first(
                    self.wake,
                    self._progress,
                    stop,
                    seconds=self._nap(drained, woken_at, idle_seconds),
                )
                if self.wake.is_set():
                    self.wake.clear()
                    woken_at = time.monotonic()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _cap(self, channel: str) -> int:
        """Rows to hold for a channel: a batch, but no more than its pace sends in half a
        lease, so no row waits in memory until another worker may take it over."""
        rate = self._pacer(channel).limits.per_second
        batch = self.settings.delivery_batch_size
        if rate <= 0:
            return batch
        return max(1, min(batch, int(rate * self.lease.total_seconds() / 2)))

    def _nap(self, drained: Mapping[str, float], woken_at: float, idle: float) -> float:
        """How long nothing can happen: until a pause ends or an empty channel is due."""
        now = time.monotonic()
        until = [now + idle]
        until += [now + p for c in self.adapters if (p := self._pacer(c).paused_for()) > 0]
        until += [since + idle for since in drained.values()]
        until += [since + WAKE_DEBOUNCE for since in drained.values() if woken_at >= since]
        return max(0.001, min(until) - now)


async def _first(*events: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


def _fallback(row: OutboxMessage) -> Recipient:
    # No channel account: the engine's answer to a refused sender, written in the same
    # transaction as their message (so its time is when they last wrote), with the platform
    # reference it needs (Teams).
    return Recipient(
        row.account,
        conversation_ref=row.recipient_ref,
        last_inbound_at=row.created_at if row.person_id is None else None,
    )


def _back(row: OutboxMessage, at: datetime) -> Outcome:
    """Give a row back unsent; one in doubt stays in doubt (looked up again at `at`)."""
    assert row.claimed_at is not None
    return Outcome("doubt" if row.status == SENDING else "release", row.id, row.claimed_at, at=at)


def _result(row: OutboxMessage, token: datetime, result: SendResult, now: datetime) -> Outcome:
    kind = "held" if result.held else "sent"
    return Outcome(kind, row.id, token, at=now, platform_message_id=result.platform_message_id)
