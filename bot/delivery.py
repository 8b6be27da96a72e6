"""The delivery worker: claims outbox rows and sends them through their channel's adapter.

Rows are claimed per channel and sent concurrently, one person's messages in order, paced to
the platform's limits (bot/pacing.py). A row is marked `sending` in a committed transaction
before its request leaves; the marks and results of many rows share one commit
(storage/outbox_worker.py). The worker reaches the outbox only through `DeliveryOutbox`
(storage/outbox.py), which has one implementation per backend. Rows of a worker that died
come back when its heartbeat stops (bot/heartbeat.py; else after the lease), and a `sending`
one (in doubt) is first looked up on the platform where the adapter can (`Reconcilable`),
else sent again — the one window left. See docs/delivery.md.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.config import Settings
from bot.delivery_results import DeliveryResults, Reconcilable, back, backoff, delivery_key
from bot.heartbeat import Heartbeat
from bot.messages import DeliveryError, Outgoing, Recipient, SendResult
from bot.metrics import SENT
from bot.pacing import UNLIMITED, Pacer, Slots, pacers
from bot.ports import Adapter
from bot.seal import Sealer
from storage.db import Database
from storage.models import utcnow
from storage.notify import listen_outbox
from storage.outbox import SENDING, Claim, DeliveryOutbox
from storage.outbox_worker import OutboxWriter, outbox_for

log = logging.getLogger(__name__)
# Sends in flight per channel and worker: enough to fill Twilio's 80/s at 200 ms a request.
DEFAULT_CONCURRENCY = 32
# A pause (429) longer than this gives the rows back to the outbox rather than holding them.
HOLD_PAUSE_SECONDS = 2.0
# A row is sent only this early in its lease (counted from its mark); later it goes back.
# The rest of the lease is for the request itself: only after the lease may another worker
# take the row over and look it up.
SEND_WITHIN_LEASE = 0.25
# An empty channel is asked again at most this often when woken.
WAKE_DEBOUNCE = 0.05
# Stopping (SIGTERM): sends in flight may finish this long; rows not yet on their way go back.
GRACE_SECONDS = 4.0
__all__ = ["DEFAULT_CONCURRENCY", "DeliveryWorker", "Reconcilable", "backoff", "delivery_key"]


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
        outbox: DeliveryOutbox | None = None,
    ) -> None:
        """`outbox`: as the composition root chose it (bot/app.py); by default the one for
        `db`'s backend (the terminal chat, the web chat and tests)."""
        self.db = db
        self.outbox = outbox if outbox is not None else outbox_for(db)
        self.settings = settings
        self.adapters = dict(adapters)
        self.sealer = Sealer(settings.secret)
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
        self.writer = OutboxWriter(self.outbox, lease=self.lease, clock=clock)
        self.results = DeliveryResults(self.writer, settings, clock, self._pacer)
        self.concurrency = concurrency
        # Per channel: rows past the pacer and not yet sending (being marked, or waiting for
        # a send slot); requests in flight. At most `concurrency` of each.
        self._ahead: dict[str, Slots] = {}
        self._slots: dict[str, Slots] = {}
        self._held: Counter[str] = Counter()  # rows in memory per channel
        self._progress = asyncio.Event()
        self.heartbeat: Heartbeat | None = None  # while `run` runs
        self._stopping = False

    # -- claiming ------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Claim one batch and send it; returns how many rows were attempted."""
        channels = self._open_channels()
        if not channels:
            return 0
        rows = await self._claim(channels, self.settings.delivery_batch_size)
        await self._deliver_all(rows)
        return len(rows)

    async def drain(self) -> int:
        """Send everything due now (used by the terminal channel and tests)."""
        total = 0
        while n := await self.run_once():
            total += n
        return total

    def _open_channels(self) -> list[str]:
        return [c for c in self.adapters if not self._pacer(c).paused_for()]

    async def _claim(self, channels: Sequence[str], limit: int) -> list[Claim]:
        beat = self.heartbeat
        me = beat.id if beat is not None and beat.registered else None
        rows = await self.outbox.claim(
            channels, now=self.clock(), limit=limit, lease=self.lease, accounts=self.accounts,
            worker=me,
        )  # fmt: skip
        for row in rows:
            self._held[row.channel] += 1
        return rows

    # -- sending -------------------------------------------------------------------------

    async def _deliver_all(self, rows: Sequence[Claim]) -> None:
        """One lane per person: their rows in order, the lanes side by side."""
        lanes: dict[tuple[str, str], list[Claim]] = defaultdict(list)
        for row in rows:
            lanes[(row.channel, row.account)].append(row)
        await asyncio.gather(*(self._lane(lane) for lane in lanes.values()))

    async def _lane(self, rows: list[Claim]) -> None:
        for i, row in enumerate(rows):
            if self._stopping:  # SIGTERM: what has not left goes back now
                await self._give_back_all(rows[i:], self.clock())
                return
            try:
                go_on = await self._deliver(row)
            except Exception:
                # The store failed: what this worker holds comes back after the lease.
                log.exception(
                    "delivery failed", extra={"channel": row.channel, "outbox_id": row.id}
                )
                self._forget(rows[i:])
                return
            self._forget([row])
            if not go_on:
                pause = self._pacer(row.channel).paused_for(row.account)
                await self._give_back_all(rows[i + 1 :], self.results.after(pause))
                return

    async def _give_back_all(self, rows: Sequence[Claim], at: datetime) -> None:
        try:
            await self.results.give_back(rows, at)
        except Exception:
            log.exception("giving rows back failed", extra={"rows": len(rows)})
        self._forget(rows)

    def _forget(self, rows: Sequence[Claim]) -> None:
        for row in rows:
            self._held[row.channel] -= 1
        if rows and self._room(rows[0].channel):
            self._progress.set()  # the loop may claim more

    async def _deliver(self, row: Claim) -> bool:
        """Send one row; False stops the rest of its lane (they are given back).

        The way out: the person's conversation limits; a place among the rows about to go;
        the channel's pace; the `sending` mark (committed with other rows' marks and
        results); a send slot; the request. Waiting for the mark holds no send slot.
        """
        adapter = self.adapters[row.channel]
        reconciler = self.reconcilers.get(row.channel)
        try:
            if row.payload is None:
                raise DeliveryError("message body missing", permanent=True)
            try:
                payload = self.sealer.open(row.payload)
            except ValueError as exc:
                raise DeliveryError(str(exc), permanent=True) from exc
            rendered = adapter.render(Outgoing.from_json(payload))
        except DeliveryError as exc:
            return await self.results.failed(row, row.claimed_at, exc, keyed=False)
        target = row.recipient or _fallback(row)
        if row.status == SENDING:
            settled = await self.results.reconcile(reconciler, row, target, rendered)
            if settled is not None:
                return settled
        pacer = self._pacer(row.channel)
        token = row.claimed_at
        ready = await pacer.conversation_ready(row.account, give_up_after=HOLD_PAUSE_SECONDS)
        async with self._slots_of(self._ahead, row.channel, self.concurrency):
            if not (ready and await pacer.wait(row.account, give_up_after=HOLD_PAUSE_SECONDS)):
                return await self._hold_back(row, token, pacer)
            # Also a row in doubt that the lookup found absent: its lease starts again here,
            # however long the lookup and the pace took.
            marked = await self.writer.start_sending(row.id, token)
            if marked is None:
                return True  # another worker took it over, or it was withdrawn
            token = marked
            slot = self._slots_of(self._slots, row.channel, self.concurrency)
            await slot.acquire()
        try:
            # A 429 may have come in while the row was being marked.
            go = await pacer.wait_out_pause(row.account, give_up_after=HOLD_PAUSE_SECONDS)
            # Stopping (SIGTERM), a row that has not left goes back.
            go = go and not self._stopping and self.clock() - token < self.lease * SEND_WITHIN_LEASE
            if go:
                pacer.sending(row.account)
                result = await self._send(row, target, rendered)
        finally:
            slot.release()
        if not go:
            return await self._hold_back(row, token, pacer)
        if isinstance(result, DeliveryError):
            return await self.results.failed(row, token, result, keyed=reconciler is not None)
        _sent(row.channel).inc()
        await self.results.sent(row, token, result)
        return True

    async def _send(
        self, row: Claim, target: Recipient, rendered: Any
    ) -> SendResult | DeliveryError:
        reconciler = self.reconcilers.get(row.channel)
        try:
            if reconciler is not None:
                return await reconciler.send(target, rendered, key=delivery_key(row))
            return await self.adapters[row.channel].send(target, rendered)
        except DeliveryError as exc:
            return exc
        except Exception as exc:  # a bug or network error in an adapter: retry
            what = {"channel": row.channel, "outbox_id": row.id, "error": type(exc).__name__}
            log.warning("send failed", extra=what)
            reason = f"{type(exc).__name__}: {exc}"[:300]
            return DeliveryError(reason, extra={"in_doubt": True})

    async def _hold_back(self, row: Claim, token: datetime, pacer: Pacer) -> bool:
        """Hand the row back unsent: the platform asked us to slow down for longer than we
        hold rows, or its mark is too old to send it now."""
        at = self.results.after(pacer.paused_for(row.account))
        await self.writer.finish(back(row, token, at))
        return False

    def _pacer(self, channel: str) -> Pacer:
        pacer = self.pacers.get(channel)
        if pacer is None:
            pacer = self.pacers[channel] = Pacer(UNLIMITED)
        return pacer

    @staticmethod
    def _slots_of(slots: dict[str, Slots], channel: str, size: int) -> Slots:
        found = slots.get(channel)
        if found is None:
            found = slots[channel] = Slots(size)
        return found

    # -- running -------------------------------------------------------------------------

    async def run(
        self, stop: asyncio.Event, idle_seconds: float = 1.0, grace: float = GRACE_SECONDS
    ) -> None:
        """Deliver until `stop` is set; sleeps when idle until woken (by this process's engine
        or, on PostgreSQL, by NOTIFY from any process) or `idle_seconds` pass. Beats while it
        runs (bot/heartbeat.py): if it dies, its rows come back in seconds. Stopping, sends in
        flight get `grace` seconds, what has not left goes back, the rest is released."""
        self._stopping = False
        beat = Heartbeat(
            self.db,
            self.settings.worker_heartbeat_seconds,
            self.clock,
            released=lambda _n: self.wake.set(),
            channels=list(self.adapters),
        )
        await beat.start()
        self.heartbeat = beat
        beating = asyncio.create_task(beat.run(stop))
        try:
            async with listen_outbox(self.db, self.wake):
                await self._loop(stop, idle_seconds, grace)
        finally:
            beating.cancel()
            await asyncio.gather(beating, return_exceptions=True)
            released = await beat.stop()
            self.heartbeat, self._stopping = None, False
            log.info("delivery worker stopped", extra={"released": released})

    async def _loop(self, stop: asyncio.Event, idle_seconds: float, grace: float) -> None:
        """Keep rows in hand per channel, claiming more when half are done; each channel
        claims on its own, so a slow channel (or claim) never holds up a fast one. A channel
        found empty is asked again when woken (at most every WAKE_DEBOUNCE seconds: on
        PostgreSQL every outbox write notifies) or after `idle_seconds`."""
        tasks: set[asyncio.Task[None]] = set()
        claiming: set[str] = set()
        drained: dict[str, float] = {}  # channel → when a claim found no more due rows
        woken_at = 0.0

        async def claim_and_send(channel: str, room: int) -> None:
            try:
                rows = await self._claim([channel], room)
            except Exception:
                log.exception("claiming failed", extra={"channel": channel})
                rows = []
            if len(rows) < room:
                drained[channel] = time.monotonic()
            claiming.discard(channel)
            self._progress.set()
            await self._deliver_all(rows)

        try:
            while not stop.is_set():
                self._progress.clear()
                now = time.monotonic()
                for channel, since in list(drained.items()):
                    if now - since >= idle_seconds or (
                        woken_at >= since and now - since >= WAKE_DEBOUNCE
                    ):
                        del drained[channel]
                for channel in self._open_channels():
                    room = self._room(channel)
                    if channel in drained or channel in claiming or not room:
                        continue
                    claiming.add(channel)
                    task = asyncio.create_task(claim_and_send(channel, room))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
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
            await self._wind_down(tasks, grace if stop.is_set() else 0.0)

    async def _wind_down(self, tasks: set[asyncio.Task[None]], grace: float) -> None:
        """Lanes give back what has not left; sends in flight get `grace` seconds."""
        self._stopping = True
        if tasks and grace > 0:
            await asyncio.wait(set(tasks), timeout=grace)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _room(self, channel: str) -> int:
        """Rows to claim for a channel: none until half of what it holds is done."""
        cap = self._cap(channel)
        room = cap - self._held[channel]
        return room if room >= max(1, cap // 2) else 0

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


@functools.cache
def _sent(channel: str) -> Any:
    return SENT.labels(channel)


def _fallback(row: Claim) -> Recipient:
    # No channel account: the engine's answer to a refused sender, written in the same
    # transaction as their message (so its time is when they last wrote), with the platform
    # reference it needs (Teams).
    return Recipient(
        row.account,
        conversation_ref=row.recipient_ref,
        last_inbound_at=row.created_at if row.person_id is None else None,
    )
