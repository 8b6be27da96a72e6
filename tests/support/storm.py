"""A vote storm against running `achterban serve` processes, and waiting for their workers to
deliver what it caused: shared by the multi-process tests in tests/scale/."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter

import aiohttp
from sqlalchemy import func, select

from bench.votes import run_concurrently
from bench.webhooks import OPTIONS, Delivery, cli, expected_counts, whatsapp
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


async def poll_and_storm(
    env: dict[str, str], db: Database, urls: list[str], voters: int
) -> tuple[int, Counter[str]]:
    """Everyone says hello (links their number), on either server; a poll to all, created by
    the CLI in its own process; then every vote, with a tenth again as Twilio's retries. The
    poll's id and the outbox's statuses once the workers settled."""
    greet = await post_all(urls, [whatsapp(i, "hallo") for i in range(voters)])
    assert set(greet) == {200}
    out = await cli(env, "poll", "create", "--question", "Akkoord?", "--format", "json",
                    *(f"--option={o}" for o in OPTIONS))  # fmt: skip
    poll_id = int(json.loads(out)["id"])
    assert await settled(db) == {"sent": 2 * voters}  # hello answers, the poll
    rng = random.Random(7)
    votes = [whatsapp(i, str(i % len(OPTIONS) + 1)) for i in range(voters)]
    rng.shuffle(votes)
    storm = votes + rng.sample(votes, voters // 10)  # Twilio's retries
    assert set(await post_all(urls, storm)) == {200}
    return poll_id, await settled(db)


async def assert_exact_tally(env: dict[str, str], poll_id: int, voters: int) -> None:
    """The poll's results, as `achterban poll results` gives them, count every voter once."""
    res = json.loads(await cli(env, "poll", "results", str(poll_id), "--format", "json"))
    assert [o["count"] for o in res["options"]] == expected_counts(voters, 0)
    assert res["participants"] == voters
