"""Two `achterban serve` processes on one PostgreSQL, each with its delivery worker: a storm of
signed WhatsApp votes split across both, 10 % delivered twice as Twilio retries, gives the
exact tally, and every message the outbox holds reaches the (fake) platform exactly once.

This process plays Twilio both ways: it signs the votes with twilio's RequestValidator
scheme (tests/fakes/twilio_api.py) and serves the REST API the workers send to.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from bench.fleet import fleet
from bench.webhooks import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    cli,
    phone,
    roster_csv,
    server_env,
)
from storage.db import Database
from storage.models import OutboxMessage
from tests.engine.test_delivery_scale import FAST
from tests.fakes.twilio_api import FakeTwilio
from tests.support.databases import create_pg_database, drop_pg_database
from tests.support.storm import assert_exact_tally, poll_and_storm

VOTERS = 400


async def test_a_vote_storm_over_two_servers_counts_exactly(tmp_path: Path) -> None:
    name, url = await create_pg_database()
    twilio = await FakeTwilio(ACCOUNT_SID, AUTH_TOKEN).start()
    db = Database(url)
    try:
        env = server_env(tmp_path, url, "http://127.0.0.1:9")
        env = {k: v for k, v in env.items() if not k.startswith("SLACK_")}  # WhatsApp only
        env |= {
            "ACHTERBAN_TWILIO_API_URL": twilio.url,
            "ACHTERBAN_RATE_LIMITS": json.dumps(FAST),
            "ACHTERBAN_WORKER_HEARTBEAT_SECONDS": "1",
        }
        await cli(env, "db", "upgrade")
        (tmp_path / "roster.csv").write_text(roster_csv(VOTERS), "utf-8")
        await cli(env, "roster", "import", str(tmp_path / "roster.csv"))
        async with fleet(env, tmp_path, serve=2) as servers:
            poll_id, counts = await poll_and_storm(env, db, servers.urls, VOTERS)
        await assert_exact_tally(env, poll_id, VOTERS)
        assert counts == {"sent": 3 * VOTERS}, counts  # one confirmation per vote, no more
        # Every row reached Twilio exactly once: one accepted message per row, each
        # message's SID recorded on its row, each person's messages all there.
        async with db.transaction(read_only=True) as session:
            stmt = select(OutboxMessage.account, OutboxMessage.platform_message_id)
            rows = (await session.execute(stmt)).all()
        assert len(twilio.sent) == len(rows) == 3 * VOTERS
        assert sorted(str(r[1]) for r in rows) == sorted(twilio.sent_sids)
        per_phone = Counter(form["To"].removeprefix("whatsapp:") for form in twilio.sent)
        assert per_phone == {phone(i): 3 for i in range(VOTERS)}
    finally:
        await db.dispose()
        await twilio.close()
        await drop_pg_database(name)
