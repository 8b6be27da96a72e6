"""Broadcasts (nieuws / updates) as people receive them: the message and its buttons, sending
when due, the one "gelezen" reminder, feedback, typed replies, and opting out.

Every broadcast message carries two feedback buttons (useful / not useful) and, when the OR
asked for it, "gelezen". Their payloads `bc:<id>:useful|not_useful|ack` are actions: valid
days later, whatever the person is doing; a button of a cancelled or unknown broadcast gets a
clear answer and changes nothing. The message is also the person's latest prompt, so a typed
"1" or "nuttig" answers it, and other text they type is collected as a reply (collect_reply).

Sending is a periodic job: a due broadcast flips scheduled → sending with a conditional
UPDATE (once, never early, whoever ticks), and its audience is queued in batches.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bot.choices import prompt_of
from bot.conversation import CONSOLE, Services, Turn
from bot.i18n import t
from bot.messages import Choice, Outgoing, Purpose
from bot.registry import Registry
from bot.text import ascii_int
from storage.broadcast_models import Broadcast
from storage.broadcast_queue import expand
from storage.broadcast_responses import NOT_USEFUL, USEFUL, Answer, Responses
from storage.broadcasts import CANCELLED, Broadcasts
from storage.models import Person
from storage.prompts import latest_prompt

P = "bc"
# Batches of storage.broadcasts.CHUNK people queued per broadcast in one scheduler tick
# (one transaction), and in the OR member's own turn when a broadcast goes out at once.
TICK_BATCHES = 10
TURN_BATCHES = 1
REMINDERS_PER_TICK = 2000
DEFAULT_REMIND_AFTER = timedelta(hours=24)
FEEDBACK = {"useful": USEFUL, "not_useful": NOT_USEFUL}


def payload(broadcast_id: int, what: str) -> str:
    return f"{P}:{broadcast_id}:{what}"


def broadcast_message(broadcast: Broadcast, lang: str, *, reminder: bool = False) -> Outgoing:
    """The message as everyone receives it (the OR's text is not translated)."""
    head = "broadcast.reminder_header" if reminder else "broadcast.header"
    lines = [t(lang, head), "", broadcast.text, ""]
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


def broadcast_of_prompt(prompt: dict[str, Any] | None) -> int | None:
    """The broadcast a stored prompt belongs to (its buttons are `bc:<id>:…`), if any."""
    for _label, choice in (prompt or {}).get("choices", []):
        parsed = _parse(str(choice))
        if parsed is not None and parsed[1] in (*FEEDBACK, "ack"):
            return parsed[0]
    return None


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

    def build(lang: str) -> Outgoing:
        return broadcast_message(broadcast, lang)

    queued = 0
    for _ in range(batches):
        batch = await expand(
            services.session,
            broadcast,
            build,
            prompt_of,
            now=services.now,
            fallback_channel=CONSOLE,
        )
        queued += batch.queued
        if batch.finished:
            await services.audit("broadcast.queued", subject=f"broadcast:{broadcast_id}")
            break
    return queued


async def send_now(services: Services, broadcast_id: int, *, actor_id: int | None) -> int:
    """Start a broadcast due now and queue its first batch in this transaction; the
    scheduler tick queues the rest. Returns how many were queued here."""
    if not await start(services, broadcast_id, actor_id=actor_id):
        return 0
    return await queue_batches(services, broadcast_id, TURN_BATCHES)


async def send_due_broadcasts(services: Services) -> int:
    """Start what is due and queue the next batches of what is sending."""
    broadcasts = Broadcasts(services.session)
    for broadcast_id in await broadcasts.due(services.now):
        await start(services, broadcast_id)
    queued = 0
    for broadcast_id in await broadcasts.in_progress():
        queued += await queue_batches(services, broadcast_id, TICK_BATCHES)
    return queued


async def remind_unacknowledged(services: Services) -> int:
    """One reminder to everyone whose copy went out and who did not press "gelezen"."""
    broadcasts = Broadcasts(services.session)
    sent = 0
    for broadcast in await broadcasts.reminders_due(services.now):
        people = await broadcasts.claim_reminders(
            broadcast.id, services.now, REMINDERS_PER_TICK - sent
        )
        if not people:
            # Done once nobody's copy is still on its way (they are reminded when it went).
            if not await broadcasts.unsent(broadcast.id, held=False):
                await broadcasts.reminders_finished(broadcast.id, services.now)
            continue
        sent += await services.notify_many(people, _reminder(broadcast), prompt=True)
        if sent >= REMINDERS_PER_TICK:
            break
    return sent


def _reminder(broadcast: Broadcast) -> Callable[[Person], Outgoing]:
    return lambda person: broadcast_message(broadcast, person.language, reminder=True)


def _parse(value: str) -> tuple[int, str] | None:
    bits = value.split(":")
    broadcast_id = ascii_int(bits[1]) if len(bits) == 3 and bits[0] == P else None
    return None if broadcast_id is None else (broadcast_id, bits[2])


async def on_broadcast_button(turn: Turn, value: str) -> None:
    """Feedback and "gelezen" (the OR's own buttons are `bcm:…`, dialogs/broadcast_manage.py)."""
    parsed = _parse(value)
    if parsed is None:
        turn.reply(turn.t("common.button_invalid"))
        return
    broadcast_id, what = parsed
    broadcast = await Broadcasts(turn.services.session).get(broadcast_id)
    if broadcast is None:
        turn.reply(turn.t("broadcast.not_found", id=broadcast_id))
    elif broadcast.status == CANCELLED:
        turn.reply(turn.t("broadcast.cancelled_refused", id=broadcast_id))
    elif what in FEEDBACK:
        await _feedback(turn, broadcast, FEEDBACK[what])
    elif what == "ack" and broadcast.acknowledge:
        await _acknowledge(turn, broadcast)
    else:
        turn.reply(turn.t("common.button_invalid"))


async def _feedback(turn: Turn, broadcast: Broadcast, value: str) -> None:
    responses = Responses(turn.services.session)
    outcome = await responses.feedback(broadcast.id, turn.person.id, value, turn.services.now)
    key = {
        Answer.NOT_RECIPIENT: "broadcast.not_recipient",
        Answer.NEW: f"broadcast.thanks_{value}",
        Answer.CHANGED: "broadcast.feedback_changed",
        Answer.UNCHANGED: "broadcast.feedback_unchanged",
    }[outcome]
    turn.reply(turn.t(key, id=broadcast.id))


async def _acknowledge(turn: Turn, broadcast: Broadcast) -> None:
    responses = Responses(turn.services.session)
    outcome = await responses.acknowledge(broadcast.id, turn.person.id, turn.services.now)
    key = {
        Answer.NOT_RECIPIENT: "broadcast.not_recipient",
        Answer.NEW: "broadcast.acknowledged",
        Answer.CHANGED: "broadcast.acknowledged",
        Answer.UNCHANGED: "broadcast.already_acknowledged",
    }[outcome]
    turn.reply(turn.t(key, id=broadcast.id))


async def collect_reply(turn: Turn) -> bool:
    """Free text outside any dialog, no command, and the person's latest prompt is a
    broadcast they received: keep it as their reply. False when it is not one."""
    text = turn.text
    if turn.conversation.dialog or not text or turn.incoming.choice:
        return False
    services = turn.services
    broadcast_id = broadcast_of_prompt(await latest_prompt(services.session, turn.person.id))
    if broadcast_id is None:
        return False
    broadcast = await Broadcasts(services.session).get(broadcast_id)
    responses = Responses(services.session)
    if broadcast is None or broadcast.status == CANCELLED:
        return False
    if await responses.recipient(broadcast_id, turn.person.id) is None:
        return False
    await responses.add_reply(
        broadcast_id, turn.person.id, turn.incoming.channel, text, services.now
    )
    turn.reply(turn.t("broadcast.reply_thanks", id=broadcast_id))
    return True


async def unsubscribe(turn: Turn, _rest: str) -> None:
    services = turn.services
    responses = Responses(services.session)
    if await responses.opt_out(turn.person.id, turn.incoming.channel, services.now):
        await services.audit("broadcast.opted_out", actor_id=turn.person.id)
        turn.reply(turn.t("broadcast.unsubscribed"))
    else:
        turn.reply(turn.t("broadcast.already_unsubscribed"))


async def subscribe(turn: Turn, rest: str) -> None:
    services = turn.services
    responses = Responses(services.session)
    subscribed = not await responses.opted_out(turn.person.id)
    if rest and subscribed and await collect_reply(turn):
        return  # "start de verbouwing …?" answering a broadcast is a reply, not a command
    if await responses.opt_in(turn.person.id):
        await services.audit("broadcast.opted_in", actor_id=turn.person.id)
        turn.reply(turn.t("broadcast.subscribed"))
    else:
        turn.reply(turn.t("broadcast.already_subscribed"))


def register(registry: Registry) -> None:
    registry.periodic("broadcasts_send", send_due_broadcasts)
    registry.periodic("broadcasts_remind", remind_unacknowledged)
    registry.action(P, on_broadcast_button)
    registry.command("commands.unsubscribe", unsubscribe, help_key="broadcast.help_unsubscribe")
    registry.command("commands.subscribe", subscribe, help_key="broadcast.help_subscribe")
