"""Delivery at scale: 2,000 people across Slack, Teams and WhatsApp, through the real adapters
and the real worker, to fake platform APIs (real HTTP on loopback) that inject 429 with
Retry-After, 5xx and slow answers. Every message must arrive exactly once.

The fakes (tests/fakes/chaos.py) add random faults, rate limits and held answers to the
fakes of the adapter tests.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from adapters.base import Adapter
from adapters.reconcile import ReconcilingSlackAdapter, ReconcilingWhatsAppAdapter
from adapters.teams import TeamsAdapter
from bot.app import new_engine
from bot.config import Settings
from bot.delivery import DeliveryWorker
from bot.engine import Engine
from bot.messages import Outgoing, Purpose
from storage.db import Database
from storage.models import ChannelAccount, OutboxMessage, Person, utcnow
from tests.fakes.chaos import (
    APP_ID,
    CHANNELS,
    TENANT,
    Chaos,
    Fakes,
    running_fakes,
    trusting,
)


async def seed(db: Database, fakes: Fakes, people: int) -> dict[int, str]:
    """`people` colleagues, a third on each channel; person id → channel."""
    rows = [{"name": f"Collega {i}", "email": f"c{i}@example.org"} for i in range(people)]
    async with db.transaction() as session:
        stmt = insert(Person).returning(Person.id, sort_by_parameter_order=True)
        ids = list((await session.execute(stmt, rows)).scalars())
        accounts, where = [], {}
        now = utcnow()
        for i, person_id in enumerate(ids):
            channel = CHANNELS[i % 3]
            account: dict[str, Any] = {"channel": channel, "person_id": person_id}
            if channel == "slack":
                account["platform_id"] = user = f"U{person_id:08d}"
                fakes.slack.add_user(user, f"c{i}@example.org")
            elif channel == "teams":
                account["platform_id"] = f"aad-{person_id}"
                account["conversation_ref"] = teams_reference(fakes.teams.url, person_id)
            else:
                account["platform_id"] = f"+3161{person_id:07d}"
                account["last_inbound_at"] = now  # within the 24-hour window
            accounts.append(account)
            where[person_id] = channel
        await session.execute(insert(ChannelAccount), accounts)
    return where


def teams_reference(service_url: str, person_id: int) -> dict[str, Any]:
    return {
        "bot": {"id": f"28:{APP_ID}", "name": "achterban"},
        "user": {"id": f"29:{person_id}", "aadObjectId": f"aad-{person_id}"},
        "conversation": {"id": f"a:personal-{person_id}", "conversationType": "personal",
                         "tenantID": TENANT},
        "channelId": "msteams",
        "serviceUrl": service_url,
    }  # fmt: skip


async def queue_news(engine: Engine, person_ids: list[int]) -> int:
    """What a broadcast does: one message per person on their channel (notify_many)."""
    async with engine.db.transaction() as session:
        queued = await engine.services(session).notify_many(
            person_ids,
            lambda p: Outgoing(text=f"Nieuws voor iedereen #{p.id}.", purpose=Purpose.BROADCAST),
        )
        return queued  # on PostgreSQL the outbox trigger wakes the workers (NOTIFY)


async def statuses(db: Database) -> Counter[str]:
    async with db.transaction(read_only=True) as session:
        stmt = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        return Counter({status: n for status, n in await session.execute(stmt)})


async def wait_until_delivered(db: Database, expected: int, seconds: float) -> Counter[str]:
    """Poll the outbox until every row is sent (or `seconds` pass); the last counts."""
    counts: Counter[str] = Counter()
    for _ in itertools.count():
        counts = await statuses(db)
        if counts["sent"] >= expected or seconds <= 0:
            return counts
        await asyncio.sleep(0.2)
        seconds -= 0.2
    return counts


def worker_adapters(settings: Settings, engine: Engine) -> dict[str, Adapter]:
    return {
        "slack": ReconcilingSlackAdapter(settings),
        "teams": TeamsAdapter(settings, engine),
        "whatsapp": ReconcilingWhatsAppAdapter(settings),
    }


async def close_all(adapters: dict[str, Adapter]) -> None:
    for adapter in adapters.values():
        await adapter.close()  # type: ignore[attr-defined]


FAST = {"slack": 2000.0, "teams": 2000.0, "whatsapp": 2000.0}
# In this process the fakes share the CPU with the worker; 2,000 go through worker processes
# in test_worker_crash.py.
PEOPLE = 600


async def test_many_people_on_three_channels_get_one_message_each(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    chaos = {
        c: Chaos(too_many=0.01, broken=0.01, slow=0.02, seed=i) for i, c in enumerate(CHANNELS)
    }
    async with running_fakes(tmp_path, chaos) as fakes:
        cfg = fakes.settings(settings, rate_limits=FAST, delivery_batch_size=200)
        engine = new_engine(db, cfg)
        where = await seed(db, fakes, PEOPLE)
        assert await queue_news(engine, list(where)) == PEOPLE
        with trusting(fakes.teams.ca_file):
            adapters = worker_adapters(cfg, engine)
            worker = DeliveryWorker(db, cfg, adapters)
            stop = asyncio.Event()
            running = asyncio.create_task(worker.run(stop, idle_seconds=0.2))
            try:
                counts = await wait_until_delivered(db, PEOPLE, seconds=60)
            finally:
                stop.set()
                await running
                await close_all(adapters)
    assert counts == Counter({"sent": PEOPLE}), counts
    copies = fakes.copies()
    for channel in CHANNELS:
        mine = {p for p, c in where.items() if c == channel}
        assert set(copies[channel]) == mine, channel  # nobody lost, nobody on another channel
        assert max(copies[channel].values()) == 1, channel  # nobody twice
    # The faults were really injected and survived: retries happened.
    assert fakes.teams.refused and fakes.whatsapp.attempts > len(fakes.whatsapp.created)
    assert len(fakes.slack.calls_to("chat.postMessage")) > len(fakes.slack.messages)
