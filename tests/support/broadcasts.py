"""Helpers for broadcast tests: a clock, a test channel for the real delivery worker, and
shortcuts to create broadcasts and read their rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.delivery import DeliveryWorker
from bot.engine import Engine
from bot.messages import Outgoing, Recipient, SendResult
from bot.usecases import broadcasts
from storage.broadcast_models import BroadcastRecipient
from storage.broadcast_status import Status, broadcast_status
from storage.models import OutboxMessage
from storage.people import Audience

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Channel:
    """A channel that accepts every message and numbers them (a test adapter)."""

    def __init__(self, channel: str = "console") -> None:
        self.channel = channel
        self.sent: list[tuple[str, str]] = []

    def render(self, outgoing: Outgoing) -> str:
        return outgoing.text

    async def send(self, recipient: Recipient, rendered: str) -> SendResult:
        self.sent.append((recipient.account, rendered))
        return SendResult(f"{self.channel}-m{len(self.sent)}")

    async def fetch_media(self, ref: Any) -> bytes:
        return b""


async def deliver(engine: Engine, *channels: str) -> dict[str, Channel]:
    """Run the real delivery worker over test channels until nothing is due."""
    adapters = {c: Channel(c) for c in channels or ("console",)}
    worker = DeliveryWorker(engine.db, engine.settings, adapters, clock=engine.clock)  # type: ignore[arg-type]
    await worker.drain()
    return adapters


async def create(
    engine: Engine,
    text: str = "Nieuws!",
    *,
    at: datetime | None = None,
    audience: Audience | None = None,
    channel: str | None = None,
    acknowledge: bool = False,
    created_by: int | None = None,
    send_now: bool = True,
) -> int:
    """A broadcast as the CLI and the dialog create it (the use case); the first batch is
    queued at once unless `at` is later or `send_now` is False (then the tick queues it)."""
    draft = broadcasts.Draft(
        text=text,
        audience=audience or Audience(),
        channel=channel,
        at=at,
        acknowledge=acknowledge,
        remind_after=timedelta(hours=24),
    )
    actor = broadcasts.Actor(created_by, frozenset({"or_member"}))
    async with engine.db.transaction() as session:
        services = engine.services(session)
        batches = broadcasts.TURN_BATCHES if send_now else 0
        saved = await broadcasts.create(services, draft, actor, batches=batches)
        return saved.id


async def status(engine: Engine, broadcast_id: int) -> Status:
    async with engine.db.transaction(read_only=True) as session:
        found = await broadcast_status(session, broadcast_id)
    assert found is not None
    return found


async def recipients(engine: Engine, broadcast_id: int) -> list[BroadcastRecipient]:
    async with engine.db.transaction(read_only=True) as session:
        stmt = (
            select(BroadcastRecipient)
            .where(BroadcastRecipient.broadcast_id == broadcast_id)
            .order_by(BroadcastRecipient.person_id)
        )
        return list((await session.execute(stmt)).scalars())


async def outbox_rows(engine: Engine, person_id: int | None = None) -> list[OutboxMessage]:
    async with engine.db.transaction(read_only=True) as session:
        stmt = select(OutboxMessage).order_by(OutboxMessage.id)
        if person_id is not None:
            stmt = stmt.where(OutboxMessage.person_id == person_id)
        return list((await session.execute(stmt)).scalars())
