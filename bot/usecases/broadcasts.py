"""Broadcasts (nieuws / updates): compose, edit, send and cancel, the same on every path.

The chat (dialogs/broadcast_create.py, dialogs/broadcast_manage.py), the dashboard
(bot/web/broadcast_views.py) and the CLI (`achterban broadcast send/cancel`) call these
commands, so each rule lives here once:

- the text is 1..MAX_TEXT characters (WhatsApp takes 1,600, with our header and footer);
- the channel filter, if any, is a known channel;
- a time more than PAST_GRACE in the past is refused (a time that passed a moment ago, while
  a preview was open or a form was sent, means now);
- an audience that reaches nobody right now is refused;
- only the author or an admin changes or cancels a broadcast (the operator at the command
  line may: they hold the database);
- a broadcast due now starts at once, its first batch is queued in the caller's transaction
  and `Saved.wake_worker` says the delivery worker has something to send; the scheduler
  tick (send_due) queues the rest and starts a later one when it is due.

Who is reached on which channel is storage.reach's rule, for broadcasts as for every other
fan-out. A photo goes through bot/photos.py with every face blurred (keep_photo).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bot import photos
from bot.conversation import CONSOLE, Services
from bot.i18n import pick, t
from bot.messages import Choice, Outgoing, Purpose
from bot.usecases import Refused
from storage.broadcast_models import Broadcast
from storage.broadcast_queue import expand
from storage.broadcasts import CHANNELS, SCHEDULED, Broadcasts, CancelOutcome
from storage.followups import FollowUps
from storage.media import PROCESSED
from storage.people import Audience
from storage.prompts import outbox_prompt

MAX_TEXT = 1500
DEFAULT_REMIND_AFTER = timedelta(hours=24)
PAST_GRACE = timedelta(minutes=1)
# Batches of storage.broadcasts.CHUNK people queued per broadcast in one scheduler tick
# (one transaction), and in the author's own transaction when a broadcast goes out at once.
TICK_BATCHES = 10
TURN_BATCHES = 1
P = "bc"  # the buttons people press on a broadcast (dialogs/broadcast.py)

# Refusals (catalogue keys): each caller words them its own way, keyed by these.
TEXT_LENGTH = "bcreate.text_length"  # max, length
TEXT_EN_LENGTH = "english.text_length"  # max, length: the English text
UNKNOWN_CHANNEL = "bcreate.unknown_channel"
IN_THE_PAST = "bcreate.bad_when"
NOBODY = "bcreate.nobody"
TOO_LATE = "bcreate.edit_too_late"  # id
NOT_YOURS = "bmanage.not_yours"  # id
NOT_FOUND = "broadcast.not_found"  # id
NO_PHOTOS = "bcreate.image_unavailable"


@dataclass(frozen=True, slots=True)
class Draft:
    """What the author composed; `at` None means now."""

    text: str
    audience: Audience = field(default_factory=Audience)
    channel: str | None = None
    at: datetime | None = None
    acknowledge: bool = False
    remind_after: timedelta = DEFAULT_REMIND_AFTER
    image_id: str | None = None
    text_en: str | None = None  # what English-speaking colleagues read instead (optional)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a person with their roles, or the operator (person_id None) at the CLI.
    `via` goes into the audit log ("web", "cli"; None in chat)."""

    person_id: int | None
    roles: frozenset[str] = frozenset()
    via: str | None = None


@dataclass(frozen=True, slots=True)
class Saved:
    id: int
    scheduled_at: datetime
    started: bool  # due now: it is sending
    queued: int  # messages queued in this transaction

    @property
    def wake_worker(self) -> bool:
        """Messages wait in the outbox: a caller outside an event wakes the worker."""
        return self.queued > 0


def check_text(text: str) -> str:
    """The text without surrounding white space, if its length is allowed."""
    return bounded_text(text, MAX_TEXT, TEXT_LENGTH)


def bounded_text(text: str, limit: int, key: str) -> str:
    """`text` stripped, if it has 1..`limit` characters; else Refused(key, max=, length=)."""
    body = text.strip()
    if not body or len(body) > limit:
        raise Refused(key, max=limit, length=len(body))
    return body


def check_time(services: Services, at: datetime | None) -> datetime:
    """When it goes out: `at`, or now when `at` is None or passed a moment ago."""
    if at is None:
        return services.now
    if at < services.now - PAST_GRACE:
        raise Refused(IN_THE_PAST)
    return max(at, services.now)


async def check(services: Services, draft: Draft) -> tuple[str, datetime]:
    """Every rule of a draft; returns the text to store and when it goes out."""
    body = check_text(draft.text)
    english = draft.text_en.strip() if draft.text_en else ""
    if len(english) > MAX_TEXT:
        raise Refused(TEXT_EN_LENGTH, max=MAX_TEXT, length=len(english))
    if draft.channel is not None and draft.channel not in CHANNELS:
        raise Refused(UNKNOWN_CHANNEL)
    when = check_time(services, draft.at)
    if not await Broadcasts(services.session).estimate(draft.audience, draft.channel):
        raise Refused(NOBODY)
    return body, when


def may_change(broadcast: Broadcast, actor: Actor) -> None:
    """Only the author or an admin (or the operator) changes or cancels a broadcast."""
    if actor.person_id is None or "admin" in actor.roles:
        return
    if broadcast.created_by != actor.person_id:
        raise Refused(NOT_YOURS, id=broadcast.id)


async def editable(services: Services, broadcast_id: int, actor: Actor) -> Broadcast:
    """The broadcast, if `actor` may still edit it (it has not started)."""
    broadcast = await _found(services, broadcast_id)
    may_change(broadcast, actor)
    if broadcast.status != SCHEDULED:
        raise Refused(TOO_LATE, id=broadcast_id)
    return broadcast


async def create(
    services: Services, draft: Draft, actor: Actor, *, batches: int = TURN_BATCHES
) -> Saved:
    """Create a broadcast; due now, it starts and `batches` batches are queued here."""
    body, when = await check(services, draft)
    created = await Broadcasts(services.session).create(
        **_values(draft, body, when), created_by=actor.person_id, now=services.now
    )
    await audit(services, "broadcast.created", created.id, actor)
    return await send_if_due(services, created.id, when, actor, batches)


async def edit(services: Services, broadcast_id: int, draft: Draft, actor: Actor) -> Saved:
    """Change a broadcast that has not started; due now, it starts as create's does.

    A draft without English (the chat asks for none) keeps the stored English while the
    Dutch text stays the same; a changed Dutch text drops it, since the English would no
    longer say the same."""
    current = await editable(services, broadcast_id, actor)
    body, when = await check(services, draft)
    if draft.text_en is None and current.text_en and current.text == body:
        draft = replace(draft, text_en=current.text_en)
    values = _values(draft, body, when)
    if not await Broadcasts(services.session).edit(broadcast_id, **values, now=services.now):
        raise Refused(TOO_LATE, id=broadcast_id)
    await audit(services, "broadcast.edited", broadcast_id, actor)
    return await send_if_due(services, broadcast_id, when, actor, TURN_BATCHES)


async def cancel(services: Services, broadcast_id: int, actor: Actor) -> tuple[CancelOutcome, int]:
    """Stop a broadcast: what was not sent yet is withdrawn. (outcome, how many withdrawn)"""
    broadcast = await Broadcasts(services.session).get(broadcast_id)
    if broadcast is None:
        return CancelOutcome.NOT_FOUND, 0
    may_change(broadcast, actor)
    outcome, withdrawn = await Broadcasts(services.session).cancel(broadcast_id, services.now)
    if outcome is CancelOutcome.CANCELLED:
        await audit(services, "broadcast.cancelled", broadcast_id, actor, withdrawn=withdrawn)
    return outcome, withdrawn


async def keep_photo(services: Services, data: bytes) -> tuple[str, int]:
    """A photo for a broadcast: metadata dropped and, since nobody in it agreed to
    publication, every face blurred; only the result is kept. (image id, faces blurred)"""
    store = services.media_store
    if store is None:
        raise Refused(NO_PHOTOS)
    max_bytes = services.settings.media_max_bytes
    try:
        done = await asyncio.to_thread(photos.scrub, data, blur=True, max_bytes=max_bytes)
    except photos.PhotoRefused as exc:
        raise Refused(exc.key, **exc.params) from None  # the refusal says it all
    return store.put(done.jpeg, PROCESSED, now=services.now), done.blurred


def payload(broadcast_id: int, what: str) -> str:
    return f"{P}:{broadcast_id}:{what}"


def broadcast_message(
    broadcast: Broadcast,
    lang: str,
    *,
    reminder: bool = False,
    results: Mapping[str, str] | None = None,
) -> Outgoing:
    """The message as everyone receives it: the author's text, in English for an English
    reader when the author wrote it in English too (never machine-translated)."""
    head = "broadcast.reminder_header" if reminder else "broadcast.header"
    lines = [t(lang, head), "", pick(lang, broadcast.text, broadcast.text_en), ""]
    if results is not None:  # a follow-up (bot/usecases/followups.py): the outcome first
        outcome = results.get(lang) or next(iter(results.values()), "")
        above = [t(lang, "followup.header"), "", outcome, "", t(lang, "followup.our_answer")]
        lines = above + lines[2:]
    if broadcast.acknowledge:
        lines.append(t(lang, "broadcast.ack_hint"))
    lines.append(t(lang, "broadcast.footer"))
    choices = [
        Choice(t(lang, "broadcast.useful"), payload(broadcast.id, "useful")),
        Choice(t(lang, "broadcast.not_useful"), payload(broadcast.id, "not_useful")),
    ]
    if broadcast.acknowledge:
        choices.append(Choice(t(lang, "broadcast.ack_button"), payload(broadcast.id, "ack")))
    return Outgoing(
        text="\n".join(lines),
        choices=tuple(choices),
        images=(broadcast.image_id,) if broadcast.image_id else (),
        purpose=Purpose.BROADCAST,
    )


async def start(services: Services, broadcast_id: int, *, actor_id: int | None = None) -> bool:
    """Flip a due broadcast to sending (False when not due, or another process did)."""
    if not await Broadcasts(services.session).start(broadcast_id, services.now):
        return False
    await services.audit(
        "broadcast.started", actor_id=actor_id, subject=f"broadcast:{broadcast_id}"
    )
    return True


async def queue_batches(services: Services, broadcast_id: int, batches: int) -> int:
    """Queue up to `batches` batches of a sending broadcast; returns messages queued."""
    broadcast = await Broadcasts(services.session).lock_sending(broadcast_id)
    if broadcast is None:
        return 0  # not sending, or another process is queueing it right now

    results = await FollowUps(services.session).results(broadcast_id)

    def build(lang: str) -> Outgoing:
        return broadcast_message(broadcast, lang, results=results)

    queued = 0
    for _ in range(batches):
        batch = await expand(
            services.session, broadcast, build, outbox_prompt, now=services.now,
            fallback_channel=CONSOLE,
        )  # fmt: skip
        queued += batch.queued
        if batch.finished:
            await services.audit("broadcast.queued", subject=f"broadcast:{broadcast_id}")
            break
    return queued


async def send_due(services: Services) -> int:
    """The scheduler's tick: start what is due and queue the next batches of what is
    sending. Returns how many messages were queued."""
    broadcasts = Broadcasts(services.session)
    for broadcast_id in await broadcasts.due(services.now):
        await start(services, broadcast_id)
    queued = 0
    for broadcast_id in await broadcasts.in_progress():
        queued += await queue_batches(services, broadcast_id, TICK_BATCHES)
    return queued


async def send_if_due(
    services: Services, broadcast_id: int, when: datetime, actor: Actor, batches: int
) -> Saved:
    """Due now: start it and queue `batches` batches in this transaction (the scheduler's
    tick queues the rest); a follow-up starts this way too."""
    started = when <= services.now and await start(services, broadcast_id, actor_id=actor.person_id)
    queued = await queue_batches(services, broadcast_id, batches) if started and batches else 0
    return Saved(broadcast_id, when, started, queued)


async def _found(services: Services, broadcast_id: int) -> Broadcast:
    broadcast = await Broadcasts(services.session).get(broadcast_id)
    if broadcast is None:
        raise Refused(NOT_FOUND, id=broadcast_id)
    return broadcast


def _values(draft: Draft, body: str, when: datetime) -> dict[str, Any]:
    return {
        "text": body,
        "text_en": draft.text_en.strip() if draft.text_en and draft.text_en.strip() else None,
        "image_id": draft.image_id,
        "audience": draft.audience,
        "channel": draft.channel,
        "scheduled_at": when,
        "acknowledge": draft.acknowledge,
        "remind_after": draft.remind_after,
    }


async def audit(
    services: Services, action: str, broadcast_id: int, actor: Actor, **details: object
) -> None:
    """The audit line of a change to a broadcast (a follow-up's too), with the way in."""
    if actor.via:
        details["via"] = actor.via
    await services.audit(
        action, actor_id=actor.person_id, subject=f"broadcast:{broadcast_id}", **details
    )
