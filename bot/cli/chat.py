"""`achterban chat --as EMAIL`: talk to the bot in a terminal, through the real engine and outbox.

The terminal is a channel like the others: each line is an Incoming, replies are outbox rows
for the console account, delivered here. Messages queued while the person was away are shown
first. With stdin not a terminal, lines are read until end of input (scripts, tests).
"""

from __future__ import annotations

import asyncio
import sys

from adapters.console import ConsoleAdapter
from bot.app import new_engine
from bot.cli.common import database
from bot.config import Settings
from bot.delivery import DeliveryWorker
from bot.engine import Engine


async def chat(cfg: Settings, email: str) -> None:
    console = ConsoleAdapter(sys.stdout)
    account = email.strip().lower()
    async with database(cfg) as db:
        engine = new_engine(db, cfg)
        worker = DeliveryWorker(
            db, cfg, {"console": console}, accounts=[account], wake=engine.outbox_changed
        )
        await worker.drain()
        if sys.stdin.isatty():
            await _interactive(engine, worker, console, account)
        else:
            for line in sys.stdin:
                if line.strip():
                    await engine.handle(console.parse(line, account))
                    await worker.drain()


async def _interactive(
    engine: Engine, worker: DeliveryWorker, console: ConsoleAdapter, account: str
) -> None:
    print("(Typ 'menu' voor hulp, Ctrl-D om te stoppen / type 'menu' for help, Ctrl-D to quit)")
    stop = asyncio.Event()
    # Messages that arrive while waiting for input (a poll, results) are shown too.
    background = asyncio.create_task(worker.run(stop, idle_seconds=1.0))
    loop = asyncio.get_running_loop()
    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            if line.strip():
                await engine.handle(console.parse(line, account))
                await worker.drain()
    finally:
        stop.set()
        await background
