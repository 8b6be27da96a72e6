"""The outbox: every message to send is a row, written in the same transaction as the change
that caused it, so nothing is lost between commit and send."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import Outgoing
from storage.models import OutboxMessage

PENDING, SENDING, SENT, FAILED, HELD = "pending", "sending", "sent", "failed", "held"


def outbox_row(
    channel: str, account: str, person_id: int | None, outgoing: Outgoing
) -> dict[str, Any]:
    return {
        "channel": channel,
        "account": account,
        "person_id": person_id,
        "payload": _payload(outgoing),
        "purpose": str(outgoing.purpose),
    }


def _payload(outgoing: Outgoing) -> dict[str, Any]:
    return dict(json.loads(outgoing.to_json()))


class Outbox:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        channel: str,
        account: str,
        person_id: int | None,
        outgoing: Outgoing,
        *,
        prompt: dict[str, Any] | None = None,
        recipient_ref: dict[str, Any] | None = None,
    ) -> None:
        row = outbox_row(channel, account, person_id, outgoing)
        self.session.add(OutboxMessage(**row, prompt=prompt, recipient_ref=recipient_ref))

    async def add_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Bulk insert (executemany) for fan-out to many people."""
        if rows:
            await self.session.execute(insert(OutboxMessage), list(rows))

    async def claim(
        self,
        channels: Sequence[str],
        *,
        now: datetime,
        limit: int,
        lease: timedelta,
        accounts: Sequence[str] | None = None,
    ) -> list[OutboxMessage]:
        """Claim due rows for sending; concurrent workers never get the same row.

        PostgreSQL: FOR UPDATE SKIP LOCKED in the subquery. SQLite: the transaction holds the
        write lock (BEGIN IMMEDIATE), so claims are serialised anyway. A row claimed by a
        worker that died comes back after `lease`.
        """
        due = or_(
            (OutboxMessage.status == PENDING) & (OutboxMessage.next_attempt_at <= now),
            (OutboxMessage.status == SENDING) & (OutboxMessage.claimed_at < now - lease),
        )
        pick = select(OutboxMessage.id).where(OutboxMessage.channel.in_(channels), due)
        if accounts is not None:
            pick = pick.where(OutboxMessage.account.in_(accounts))
        pick = pick.order_by(OutboxMessage.id).limit(limit).with_for_update(skip_locked=True)
        stmt = (
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(pick.scalar_subquery()))
            .values(status=SENDING, claimed_at=now, attempts=OutboxMessage.attempts + 1)
            .returning(OutboxMessage)
            .execution_options(synchronize_session=False)
        )
        rows = list((await self.session.execute(stmt)).scalars())
        rows.sort(key=lambda r: r.id)
        return rows

    async def mark_sent(
        self, row_id: int, *, now: datetime, platform_message_id: str | None
    ) -> None:
        await self._set(
            row_id,
            status=SENT,
            sent_at=now,
            platform_message_id=platform_message_id,
            payload=None,
            recipient_ref=None,
            last_error=None,
        )

    async def mark_retry(self, row_id: int, *, error: str, at: datetime) -> None:
        await self._set(row_id, status=PENDING, next_attempt_at=at, last_error=error[:500])

    async def mark_held(
        self, row_id: int, *, now: datetime, platform_message_id: str | None
    ) -> None:
        """A notice went out instead of the message; keep the body until the person writes."""
        await self._set(row_id, status=HELD, sent_at=now, platform_message_id=platform_message_id)

    async def release_held(self, channel: str, account: str, *, now: datetime) -> None:
        """The person wrote: held messages to them go out now."""
        await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status == HELD,
                OutboxMessage.channel == channel,
                OutboxMessage.account == account,
            )
            .values(status=PENDING, next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )

    async def release(self, row_id: int, *, at: datetime) -> None:
        """Give a claimed row back unsent (its channel is paused): the attempt does not count."""
        await self._set(
            row_id, status=PENDING, next_attempt_at=at, attempts=OutboxMessage.attempts - 1
        )

    async def mark_failed(self, row_id: int, *, error: str) -> None:
        await self._set(
            row_id, status=FAILED, last_error=error[:500], payload=None, recipient_ref=None
        )

    async def _set(self, row_id: int, **values: Any) -> None:
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    async def depth(self) -> dict[str, int]:
        """Undelivered rows per channel (for /metrics)."""
        stmt = (
            select(OutboxMessage.channel, func.count())
            .where(OutboxMessage.status.in_((PENDING, SENDING)))
            .group_by(OutboxMessage.channel)
        )
        return {channel: n for channel, n in await self.session.execute(stmt)}
