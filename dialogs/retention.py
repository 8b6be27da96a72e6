"""The retention job: the scheduler deletes what the privacy notice says is deleted, when it
says so (docs/privacy.md). Report photos and web chat links have their own jobs
(report_jobs.purge_media, dashboard.purge_web)."""

from __future__ import annotations

from datetime import timedelta

from bot.conversation import Services
from bot.registry import Registry
from storage.reseal import reseal
from storage.retention import expire_held_messages, purge_inbound_keys


async def enforce_retention(services: Services) -> int:
    now, retention = services.now, services.settings.retention
    removed = await purge_inbound_keys(
        services.session, before=now - timedelta(hours=retention.inbound_key_hours)
    )
    removed += await expire_held_messages(
        services.session, before=now - timedelta(days=retention.held_message_days)
    )
    return removed


async def reseal_anonymous_rows(services: Services) -> int:
    """PostgreSQL only: anonymous rows no longer share a transaction id with their author's
    event once this has run (storage/reseal.py)."""
    return await reseal(services.session)


def register(registry: Registry) -> None:
    registry.periodic("retention", enforce_retention)
    registry.periodic("reseal", reseal_anonymous_rows)
