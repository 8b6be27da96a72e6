"""A vote storm against running `achterban serve` processes, and waiting for their workers to
deliver what it caused: shared by the multi-process tests in tests/scale/."""

from __future__ import annotations

import asyncio
from collections import Counter

import aiohttp
from sqlalchemy import func, select

from bench.votes import run_concurrently
from bench.webhooks import Delivery
from storage.db import Database
from storage.models import OutboxMessage

CONCURRENCY = 16


async def post_all(
    urls: list[str], deliveries: list[Delivery], concurrency: int = CONCURRENCY
) -> list[int]:
    """Round-robin over the servers; the status of each answer."""
    statuses: list[int] = [0] * len(deliveries)
    async with aiohttp.ClientSession() as http:

        async def one(n: int) -> None:
            d = deliveries[n]
            url = urls[n % len(urls)] + "/twilio/whatsapp"
            async with http.post(url, data=d.body, headers=d.headers) as r:
                await r.read()
                statuses[n] = r.status

        await run_concurrently(len(deliveries), concurrency, one, lambda: None)
    return statuses


async def outbox_statuses(db: Database) -> Counter[str]:
    async with db.transaction(read_only=True) as session:
        stmt = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        return Counter({s: n for s, n in await session.execute(stmt)})


async def settled(db: Database, seconds: float = 30) -> Counter[str]:
    """The outbox's statuses once every row is sent, or as they are after `seconds`."""
    for _ in range(int(seconds / 0.2)):
        counts = await outbox_statuses(db)
        if set(counts) <= {"sent"}:
            return counts
        await asyncio.sleep(0.2)
    return await outbox_statuses(db)
