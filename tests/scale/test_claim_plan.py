"""A claim reads the rows still to deliver, not the sent history (ix_outbox_undelivered).

Sent rows stay in the outbox (their prompts feed the stats), so after a year there are
millions; the claim's scan in id order used to walk all of them (1.2 s per claim over
1,000,000 sent rows). These tests put 30,000 sent rows before a few due ones and look at what
the claim's pick statement reads, on each backend.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event, text

from storage.db import Database
from storage.models import utcnow
from storage.outbox_postgres import PICK
from storage.outbox_worker import outbox_for

HISTORY = 30_000
DUE = 2_000  # enough for the planner to expect them soon in id order


async def history_then_due(db: Database) -> None:
    now = "CURRENT_TIMESTAMP" if db.is_sqlite else "now()"
    series = (
        f"WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {HISTORY + DUE})"
        if db.is_sqlite
        else f"WITH g(n) AS (SELECT generate_series(1, {HISTORY + DUE}))"
    )
    async with db.transaction() as session:
        await session.execute(text(f"""
            {series}
            INSERT INTO outbox (channel, account, purpose, status, attempts, next_attempt_at,
                                created_at)
            SELECT 'whatsapp', '+31' || n, 'reply',
                   CASE WHEN n > {HISTORY} THEN 'pending' ELSE 'sent' END, 0, {now}, {now}
            FROM g"""))  # fmt: skip
    async with db.engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
        await conn.commit()


async def test_the_claim_skips_the_sent_history(db: Database) -> None:
    await history_then_due(db)
    now, lease = utcnow() + timedelta(seconds=1), timedelta(seconds=300)
    if db.is_sqlite:
        seen: list[tuple[str, Any]] = []

        def note(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
            if statement.lstrip().upper().startswith("SELECT") and "FROM outbox" in statement:
                seen.append((statement, params))

        event.listen(db.engine.sync_engine, "before_cursor_execute", note)
        rows = await outbox_for(db).claim(["whatsapp"], now=now, limit=10, lease=lease)
        event.remove(db.engine.sync_engine, "before_cursor_execute", note)
        statement, params = seen[0]
        async with db.engine.connect() as conn:
            raw: Any = (await conn.get_raw_connection()).driver_connection
            cursor = await raw.execute("EXPLAIN QUERY PLAN " + statement, params)
            plan = " ".join(str(r[-1]) for r in await cursor.fetchall())
        assert "ix_outbox_undelivered" in plan, plan
    else:
        rows = await outbox_for(db).claim(["whatsapp"], now=now, limit=10, lease=lease)
        async with db.driver() as conn:
            args = (["whatsapp"], now, now - lease, 0, 42, None)
            plan = "\n".join(
                r[0] for r in await conn.fetch("EXPLAIN (ANALYZE, COSTS OFF) " + PICK, *args)
            )
        removed = [int(line.split(":")[1]) for line in plan.splitlines() if "Removed by" in line]
        assert sum(removed) < 1000, plan  # not the 30,000 sent rows
    assert len(rows) == 10 and all(int(r.account[3:]) > HISTORY for r in rows)
