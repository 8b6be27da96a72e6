"""Periodic work for reports: half-finished reports reminded once and discarded after a day,
moderators told of anonymous reports, and media purged after the retention period.

Each job runs in its own transaction and may run in several processes at once: drafts are
changed under the person's conversation lock, notices through a conditional update.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.conversation import Services
from bot.i18n import t
from bot.messages import Outgoing, Purpose
from bot.registry import Registry
from bot.usecases.reports import notify_moderators
from dialogs.report_moderation import FOLLOWUP, media_of
from storage.broadcasts import Broadcasts
from storage.conversations import lock_conversation
from storage.media import ORIGINAL, PROCESSED, MediaError
from storage.models import Conversation
from storage.reports import Reports

log = logging.getLogger(__name__)

DRAFTS = ("unsafe_report", FOLLOWUP)
# Unreferenced files (discarded drafts, previews) go after this; drafts live a day at most.
ORPHAN_AGE = timedelta(days=2)


def _touched(state: dict[str, object]) -> datetime | None:
    raw = state.get("touched")
    try:
        return datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


async def remind_or_discard_drafts(services: Services) -> int:
    """Remind a half-finished report once after some hours; discard it after a day."""
    remind_after = timedelta(hours=services.settings.report_reminder_hours)
    discard_after = timedelta(hours=services.settings.report_discard_hours)
    stmt = select(Conversation.person_id).where(Conversation.dialog.in_(DRAFTS))
    person_ids = list((await services.session.execute(stmt)).scalars())
    done = 0
    for person_id in person_ids:
        conversation = await lock_conversation(services.session, person_id)
        touched = _touched(conversation.state)
        if conversation.dialog not in DRAFTS or touched is None:
            continue
        idle = services.now - touched
        if idle >= discard_after:
            await _drop_draft_files(services, conversation.state)
            dialog = conversation.dialog
            conversation.dialog, conversation.state = None, {}
            key = "report.draft_discarded" if dialog == DRAFTS[0] else "report.followup_expired"
            await _tell(services, person_id, key)
            done += 1
        elif (
            conversation.dialog == DRAFTS[0]
            and idle >= remind_after
            and not conversation.state.get("reminded")
        ):
            conversation.state = {**conversation.state, "reminded": True}
            await _tell(services, person_id, "report.draft_reminder")
            done += 1
    return done


async def _tell(services: Services, person_id: int, key: str) -> None:
    await services.notify_many(
        [person_id], lambda p: Outgoing(text=t(p.language, key), purpose=Purpose.NOTICE)
    )


async def _drop_draft_files(services: Services, state: dict[str, object]) -> None:
    """A discarded draft's originals are deleted now, unless a report uses the same file."""
    media = media_of(services)
    drafts = state.get("photos")
    if media is None or not isinstance(drafts, list):
        return
    used = await Reports(services.session).referenced("original_id")
    for photo in drafts:
        media_id = photo.get("original") if isinstance(photo, dict) else None
        if isinstance(media_id, str) and media_id not in used:
            try:
                media.store.delete(media_id)
            except MediaError:
                log.warning("malformed media id in a draft")


async def notify_about_anonymous_reports(services: Services) -> int:
    """Anonymous reports reach the moderators at the next tick, not in the reporter's own
    transaction: a notice written at the very moment the reporter wrote would tie them."""
    reports = Reports(services.session)
    sent = 0
    for report_id in await reports.not_notified():
        report = await reports.get(report_id)
        if report is not None:
            sent += await notify_moderators(services, report) > 0
    return sent


async def purge_media(services: Services) -> int:
    """Originals after the retention period; unreferenced files after two days."""
    media = media_of(services)
    if media is None:
        return 0
    retention = timedelta(days=services.settings.media_retention_days)
    reports = Reports(services.session)
    expired = await reports.expire_originals((services.now - retention).date())
    still_used = await reports.referenced("original_id")
    removed = sum(media.store.delete(i) for i in set(expired) - still_used)
    removed += media.store.purge(ORIGINAL, retention, services.now, keep=())
    removed += media.store.purge(ORIGINAL, ORPHAN_AGE, services.now, keep=still_used)
    processed = await reports.referenced("processed_id")
    processed |= await Broadcasts(services.session).image_ids()  # sent now or later
    removed += media.store.purge(PROCESSED, ORPHAN_AGE, services.now, keep=processed)
    if removed or expired:
        await services.audit("media.purged", files=removed, originals_expired=len(expired))
    return removed


def register(registry: Registry) -> None:
    registry.periodic("report_drafts", remind_or_discard_drafts)
    registry.keep_own_time(*DRAFTS)  # reminded and discarded above, not timed out
    registry.periodic("report_anonymous_notices", notify_about_anonymous_reports)
    registry.periodic("media_purge", purge_media)
