"""SIGTERM to `achterban serve` or `achterban worker`: no more events or claims, sends in
flight finish, rows not yet on their way go back to the outbox, and the process is out
within 10 s (what a rolling deploy or `docker stop` does).

The fake platforms answer every message 2 s late, so at the signal the worker holds rows it
has not sent and requests that are on their way.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from bot.app import new_engine
from bot.config import Settings
from storage.db import Database
from storage.workers import alive
from tests.engine.test_delivery_scale import queue_news, seed, statuses
from tests.engine.test_worker_crash import ROOT, until, worker_env
from tests.fakes.chaos import CHANNELS, Chaos, running_fakes

PEOPLE = 300
EXIT_WITHIN = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("command", ["serve", "worker"])
async def test_sigterm_finishes_or_gives_back_and_exits_in_time(
    db: Database, settings: Settings, tmp_path: Path, command: str
) -> None:
    slow = {c: Chaos(slow=1.0, slow_seconds=2.0, seed=i) for i, c in enumerate(CHANNELS)}
    async with running_fakes(tmp_path, slow) as fakes:
        engine = new_engine(db, fakes.settings(settings))
        where = await seed(db, fakes, PEOPLE)
        env = {**os.environ, **worker_env(fakes, settings.db_url, tmp_path)}
        env["ACHTERBAN_DELIVERY_LEASE_SECONDS"] = "300"
        port = free_port()
        args = ["serve", "--port", str(port)] if command == "serve" else ["worker"]
        run = "from bot.cli.main import app; app()"
        with (tmp_path / "proc.log").open("ab") as err:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", run, *args, cwd=ROOT, env=env, stdout=err, stderr=err
            )
        try:
            for _ in range(300):  # started: registered with its heartbeat
                if await alive(db) or proc.returncode is not None:
                    break
                await asyncio.sleep(0.1)
            assert await queue_news(engine, list(where)) == PEOPLE
            await until(lambda: all(f.chaos.accepted for f in fakes.all), 60, "sends under way")
            await asyncio.sleep(0.3)
            signalled = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            if command == "serve":
                await asyncio.sleep(0.5)
                with pytest.raises(aiohttp.ClientConnectionError):  # no more events
                    async with aiohttp.ClientSession() as http:
                        await http.get(f"http://127.0.0.1:{port}/healthz")
            code = await asyncio.wait_for(proc.wait(), EXIT_WITHIN + 5)
            took = time.monotonic() - signalled
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        log = (tmp_path / "proc.log").read_text()[-3000:]
        print(f"{command} on {db.url.split(':')[0]}: out {took:.1f} s after SIGTERM")
        assert took < EXIT_WITHIN, (took, log)
        assert code == 0 or code == -signal.SIGTERM or code == 143, (code, log)
        counts = await statuses(db)
        # Nothing left claimed or in doubt: sent, or back in the outbox for the next worker.
        assert set(counts) <= {"sent", "pending"}, (counts, log)
        assert counts["pending"] > 0 and counts["sent"] > 0, counts
        # Every message the platforms accepted is recorded as sent, and no more.
        assert counts["sent"] == fakes.accepted(), (counts, fakes.accepted())
        assert await alive(db) == []  # unregistered
