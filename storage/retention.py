"""Deleting what has outlived its purpose (docs/privacy.md, "Bewaartermijnen / Retention").

Each statement is conditional on age alone, so several processes may run it at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import InboundEvent, OutboxMessage
from storage.outbox import FAILED, HELD

EXPIRED = "expired: held longer than the retention period"


@dataclass(frozen=True, slots=True)
class Retention:
    """How long things are kept (settings ACHTERBAN_*_RETENTION_*, see the README)."""

    # Slack retries for about an hour, Twilio and the Bot Framework for minutes.
    inbound_key_hours: float = 24.0
    held_message_days: float = 14.0
    web_mailbox_days: float = 30.0


async def purge_inbound_keys(session: AsyncSession, *, before: datetime) -> int:
    """Dedupe keys of events older than any platform retry: they guard nothing any more."""
    result = await session.execute(
        delete(InboundEvent)
        .where(InboundEvent.received_at < before)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def expire_held_messages(session: AsyncSession, *, before: datetime) -> int:
    """Messages held for someone who has not written back (WhatsApp's closed window) fail
    with their body erased, rather than waiting for ever with what they said."""
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == HELD, OutboxMessage.created_at < before)
        .values(status=FAILED, payload=None, recipient_ref=None, last_error=EXPIRED)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
