"""Broadcasts (nieuws / updates) as people receive them: the message and its buttons, sending
when due, the one "gelezen" reminder, feedback, typed replies, and opting out.

Every broadcast message carries two feedback buttons (useful / not useful) and, when the OR
asked for it, "gelezen". Their payloads `bc:<id>:useful|not_useful|ack` are actions: valid
days later, whatever the person is doing; a button of a cancelled or unknown broadcast gets a
clear answer and changes nothing. The message is also the person's latest prompt, so a typed
"1" or "nuttig" answers it, and other text they type is collected as a reply (collect_reply).

Sending is a periodic job (bot/usecases/broadcasts.send_due): a due broadcast flips
scheduled → sending with a conditional UPDATE (once, never early, whoever ticks), and its
audience is queued in batches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.conversation import Services, Turn
from bot.messages import Outgoing
from bot.registry import Registry
from bot.text import ascii_int
from bot.usecases.broadcasts import P, broadcast_message, send_due
from storage.broadcast_models import Broadcast
from storage.broadcast_responses import NOT_USEFUL, USEFUL, Answer, Responses
from storage.broadcasts import CANCELLED, Broadcasts
from storage.models import Person
from storage.prompts import latest_prompt

REMINDERS_PER_TICK = 2000
FEEDBACK = {"useful": USEFUL, "not_useful": NOT_USEFUL}


def broadcast_of_prompt(prompt: dict[str, Any] | None) -> int | None:
    """The broadcast a stored prompt belongs to (its buttons are `bc:<id>:…`), if any."""
    for _label, choice in (prompt or {}).get("choices", []):
        parsed = _parse(str(choice))
        if parsed is not None and parsed[1] in (*FEEDBACK, "ack"):
            return parsed[0]
    return None


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
    registry.periodic("broadcasts_send", send_due)
    registry.periodic("broadcasts_remind", remind_unacknowledged)
    registry.action(P, on_broadcast_button)
    # 'afmelden' is registered by dialogs/intents.py, which asks for a confirmation first.
    registry.command("commands.subscribe", subscribe, help_key="broadcast.help_subscribe")
