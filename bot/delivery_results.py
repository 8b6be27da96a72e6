"""What becomes of a delivery attempt: the outcome written for a row, and the lookup of a row
in doubt on the platform (docs/delivery.md).

A permanent failure ends the row; a 429 pauses the channel (or one conversation) and retries
after Retry-After; other failures retry with backoff — still in doubt when the request may
have arrived and the platform can be asked before the next attempt.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from prometheus_client import Counter

from bot.config import Settings
from bot.messages import DeliveryError, Recipient, SendResult
from bot.metrics import SEND_FAILURES
from bot.pacing import Pacer
from storage.outbox import SENDING, Claim, RowOutcome
from storage.outbox_worker import OutboxWriter

log = logging.getLogger("bot.delivery")
MAX_BACKOFF = timedelta(hours=1)
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


def delivery_key(row: Claim) -> str:
    """Stable across attempts and unique across databases that reuse ids (a restore)."""
    return f"{row.id}-{int(row.created_at.timestamp())}"


def backoff(attempt: int, base_seconds: float) -> timedelta:
    """Exponential backoff with jitter (50–150 %), capped at an hour."""
    seconds = base_seconds * (2 ** max(0, attempt - 1)) * random.uniform(0.5, 1.5)
    return min(timedelta(seconds=seconds), MAX_BACKOFF)


def back(row: Claim, token: datetime, at: datetime) -> RowOutcome:
    """Give a row back unsent (also one this worker marked `sending` but did not send); one
    that was in doubt when claimed stays in doubt (looked up again at `at`)."""
    return RowOutcome("doubt" if row.status == SENDING else "release", row.id, token, at=at)


class DeliveryResults:
    """Writes what became of each attempt, through the worker's group-commit writer."""

    def __init__(
        self,
        writer: OutboxWriter,
        settings: Settings,
        clock: Callable[[], datetime],
        pacer: Callable[[str], Pacer],
    ) -> None:
        self.writer = writer
        self.settings = settings
        self.clock = clock
        self.pacer = pacer

    def after(self, seconds: float) -> datetime:
        return self.clock() + timedelta(seconds=seconds)

    def backoff(self, row: Claim) -> datetime:
        return self.clock() + backoff(row.attempts, self.settings.delivery_backoff_seconds)

    async def sent(self, row: Claim, token: datetime, result: SendResult) -> None:
        kind = "held" if result.held else "sent"
        pmid = result.platform_message_id
        await self.writer.finish(
            RowOutcome(kind, row.id, token, at=self.clock(), platform_message_id=pmid)
        )

    async def give_back(self, rows: Sequence[Claim], at: datetime) -> None:
        """Rows of a lane that stopped (a pause, an earlier row in doubt) go back unsent."""
        await self.writer.finish_all([back(row, row.claimed_at, at) for row in rows])

    async def failed(self, row: Claim, token: datetime, exc: DeliveryError, *, keyed: bool) -> bool:
        """Record a failed attempt; False stops the rest of the person's lane."""
        SEND_FAILURES.labels(row.channel, str(exc.permanent).lower()).inc()
        if exc.permanent or row.attempts >= self.settings.delivery_max_attempts:
            await self.writer.finish(RowOutcome("failed", row.id, token, error=exc.reason))
            return True
        if exc.retry_after is not None:
            scope = row.account if exc.extra.get("scope") == "conversation" else None
            self.pacer(row.channel).pause(exc.retry_after, scope)
            at = self.after(exc.retry_after)
            await self.writer.finish(RowOutcome("retry", row.id, token, at=at, error=exc.reason))
            return False
        at = self.backoff(row)
        if keyed and exc.extra.get("in_doubt"):
            await self.writer.finish(RowOutcome("doubt", row.id, token, at=at, error=exc.reason))
            return False  # the person's next messages wait until this one is settled
        await self.writer.finish(RowOutcome("retry", row.id, token, at=at, error=exc.reason))
        return True

    async def reconcile(
        self, reconciler: Reconcilable | None, row: Claim, target: Recipient, rendered: Any
    ) -> bool | None:
        """A row in doubt: ask the platform where it can tell. None: (re)send it now."""
        token = row.claimed_at
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
                await self.writer.finish(RowOutcome("failed", row.id, token, error=reason))
                return True
            # Only the lookup was refused (its own rate limit): sending is not paused.
            wait = exc.retry_after
            at = self.after(wait) if wait is not None else self.backoff(row)
            await self.writer.finish(RowOutcome("doubt", row.id, token, at=at, error=reason))
            return False
        if found is None:
            IN_DOUBT.labels(row.channel, "absent").inc()
            return None
        IN_DOUBT.labels(row.channel, "found").inc()
        await self.sent(row, token, found)
        return True
