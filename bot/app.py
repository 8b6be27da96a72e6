"""The composition root: the only place that wires settings, store, engine, job modules and
channels."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from bot.config import Settings
from bot.delivery import GRACE_SECONDS, DeliveryWorker
from bot.engine import Engine
from bot.messages import DeliveryError, MediaRef
from bot.ports import Adapter, Mount
from bot.registry import Registry
from bot.scheduler import Scheduler
from dialogs import (
    broadcast,
    broadcast_create,
    broadcast_manage,
    dashboard,
    home,
    intents,
    menu,
    nomination,
    nomination_campaign,
    open_question,
    poll,
    poll_commands,
    poll_create,
    question_create,
    report_jobs,
    report_moderation,
    retention,
    survey,
    survey_create,
    unsafe_report,
)
from storage.db import Database
from storage.outbox_worker import outbox_for

log = logging.getLogger(__name__)

# The job modules: each exposes `register(registry)` (bot/registry.py); nothing registers
# itself at import, so a module missing here is not there (tests/engine/test_registry.py checks
# that every module of dialogs/ with a `register` is listed). This order is the order of the
# help text's command lines and of the scheduler's jobs, the poll jobs first.
JOB_MODULES: tuple[ModuleType, ...] = (
    poll,
    broadcast,
    intents,
    report_moderation,
    broadcast_manage,
    dashboard,
    poll_commands,
    menu,
    nomination,
    nomination_campaign,
    open_question,
    question_create,
    unsafe_report,
    broadcast_create,
    poll_create,
    survey,
    survey_create,
    report_jobs,
    retention,
    home,
)


def build_registry(modules: tuple[ModuleType, ...] = JOB_MODULES) -> Registry:
    """A registry holding what `modules` register; raises RegistryError on any clash."""
    registry = Registry()
    for module in modules:
        module.register(registry)
    return registry


def new_engine(db: Database, settings: Settings, **kwargs: Any) -> Engine:
    """An engine with this application's job modules (for the CLI, benchmarks and tests)."""
    return Engine(db, settings, build_registry(), **kwargs)


# channel → module with `mount(settings, engine) -> Mount`; imported only when the channel is
# enabled, so the CLI starts fast and a missing credential never loads an SDK.
CHANNEL_MODULES = {
    "slack": "adapters.slack",
    "teams": "adapters.teams",
    "whatsapp": "adapters.whatsapp",
}


@dataclass
class Runtime:
    settings: Settings
    db: Database
    engine: Engine
    mounts: dict[str, Mount] = field(default_factory=dict)
    channel_notes: dict[str, str] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    extra_adapters: list[Adapter] = field(default_factory=list)
    # ACHTERBAN_READ_DATABASE_URL: where pages that only read results read (bot/web/site.py).
    read_db: Database | None = None

    @property
    def adapters(self) -> dict[str, Adapter]:
        return {name: m.adapter for name, m in self.mounts.items()}

    async def fetch_media(self, channel: str, ref: MediaRef) -> bytes:
        """Download a person's attachment through the adapter of the channel it came from."""
        mount = self.mounts.get(channel)
        if mount is None:
            raise DeliveryError(f"channel {channel} cannot fetch media here", permanent=True)
        return await mount.adapter.fetch_media(ref)

    def worker(self) -> DeliveryWorker:
        adapters = self.adapters
        if {"slack", "whatsapp"} & adapters.keys():
            # The worker's Slack and WhatsApp can look a message up on the platform, so a
            # row left "sending" by a crash is not sent twice (docs/delivery.md).
            from adapters.reconcile import reconciling

            adapters = reconciling(adapters, self.settings)
            self.extra_adapters += [a for k, a in adapters.items() if a is not self.adapters[k]]
        return DeliveryWorker(
            self.db,
            self.settings,
            adapters,
            wake=self.engine.outbox_changed,
            concurrency=self.settings.delivery_concurrency,
            outbox=outbox_for(self.db),  # one implementation per backend (storage/outbox.py)
        )

    def start_background(self, *, deliver: bool = True, schedule: bool = True) -> None:
        if deliver:
            self.tasks.append(asyncio.create_task(self.worker().run(self.stop)))
        if schedule:
            self.tasks.append(asyncio.create_task(Scheduler(self.engine).run(self.stop)))

    async def close(self) -> None:
        """Stop the background: the worker finishes or gives back what it holds (within
        its grace, bot/delivery.py), then anything still running is cancelled."""
        self.stop.set()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=GRACE_SECONDS + 2)
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for adapter in [*(m.adapter for m in self.mounts.values()), *self.extra_adapters]:
            closer = getattr(adapter, "close", None)
            if closer is not None:
                await closer()
        await self.db.dispose()
        if self.read_db is not None:
            await self.read_db.dispose()


def build_runtime(settings: Settings) -> Runtime:
    db = Database(settings.db_url, pool_size=settings.db_pool_size)
    # The job modules register their dialogs, actions, commands and periodic jobs here; a
    # clash of names stops the start-up (bot/registry.py).
    engine = new_engine(db, settings)
    runtime = Runtime(settings=settings, db=db, engine=engine)
    if settings.read_db_url:
        runtime.read_db = Database(settings.read_db_url, pool_size=settings.db_pool_size)
    for channel, why_off in settings.channel_status().items():
        module_name = CHANNEL_MODULES[channel]
        if why_off is not None:
            runtime.channel_notes[channel] = f"off ({why_off})"
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            runtime.channel_notes[channel] = "off (adapter not installed in this build)"
            continue
        runtime.mounts[channel] = module.mount(settings, runtime.engine)
        runtime.channel_notes[channel] = "on"
    # The web chat needs no credentials: always on (its module imports no platform SDK).
    from bot.web import chat_views as web_channel

    runtime.mounts["web"] = web_channel.mount(settings, runtime.engine)
    runtime.channel_notes["web"] = "on (/chat)"
    runtime.engine.fetch_media = runtime.fetch_media
    return runtime
