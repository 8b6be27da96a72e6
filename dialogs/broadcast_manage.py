"""The OR's own broadcasts in chat: 'nieuws' lists them with their figures, and buttons to
edit or cancel what has not gone out, see the figures, and read the replies.

Buttons are `bcm:<id>:edit|cancel|status|replies` and `bcm:new`: actions, valid days later;
each checks the role again (and, for edit and cancel, that it is the person's own broadcast
or that they are an admin), so a forwarded or stale button changes nothing.
"""

from __future__ import annotations

from bot.conversation import Turn
from bot.messages import Choice
from bot.registry import Registry
from bot.text import ascii_int
from bot.usecases import Refused, broadcasts
from dialogs.broadcast_create import NAME, draft_of
from storage.broadcast_models import Broadcast
from storage.broadcast_responses import Responses
from storage.broadcast_status import Status, broadcast_status
from storage.broadcasts import DONE, SCHEDULED, SENDING_STATUS, Broadcasts, CancelOutcome

P = "bcm"
LIST_LIMIT = 10
REPLIES_SHOWN = 20
SNIPPET = 60


def _snippet(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= SNIPPET else line[: SNIPPET - 1] + "…"


def figures(turn: Turn, status: Status) -> str:
    return turn.t(
        "bmanage.figures",
        recipients=status.recipients,
        sent=status.sent,
        delivered=status.delivered,
        read=status.read,
        failed=status.failed,
        queued=status.queued,
        opted_out=status.opted_out,
        unreachable=status.unreachable,
        useful=status.useful,
        not_useful=status.not_useful,
        acknowledged=status.acknowledged,
        reactions=status.reactions,
        replies=status.replies,
    )


async def list_broadcasts(turn: Turn, _rest: str) -> None:
    """The person's own recent broadcasts, newest first, with what can still be done."""
    services = turn.services
    mine = await Broadcasts(services.session).recent(created_by=turn.person.id, limit=LIST_LIMIT)
    choices: list[Choice] = []
    if not mine:
        turn.reply(turn.t("bmanage.none"), [Choice(turn.t("bmanage.new"), f"{P}:new")])
        return
    lines = [turn.t("bmanage.header"), ""]
    for broadcast in mine:
        when = services.format_time(broadcast.scheduled_at, turn.lang)
        state = turn.t(f"bmanage.status_{broadcast.status}")
        lines.append(
            turn.t("bmanage.line", id=broadcast.id, status=state, when=when)
            + f"\n   {_snippet(broadcast.text)}"
        )
        if broadcast.status == SCHEDULED:
            choices.append(
                Choice(turn.t("bmanage.edit", id=broadcast.id), f"{P}:{broadcast.id}:edit")
            )
        if broadcast.status in (SCHEDULED, SENDING_STATUS, DONE):
            choices.append(
                Choice(turn.t("bmanage.cancel", id=broadcast.id), f"{P}:{broadcast.id}:cancel")
            )
        if broadcast.status != SCHEDULED:
            choices.append(
                Choice(turn.t("bmanage.status", id=broadcast.id), f"{P}:{broadcast.id}:status")
            )
    choices.append(Choice(turn.t("bmanage.new"), f"{P}:new"))
    turn.reply("\n".join(lines), choices)


async def new_broadcast(turn: Turn, _rest: str) -> None:
    await turn.begin(NAME)


async def on_manage_button(turn: Turn, value: str) -> None:
    if not turn.is_or_member:
        turn.reply(turn.t("menu.or_only"))
        return
    if value == f"{P}:new":
        await turn.begin(NAME)
        return
    bits = value.split(":")
    broadcast_id = ascii_int(bits[1]) if len(bits) == 3 else None
    if broadcast_id is None or bits[2] not in HANDLERS:
        turn.reply(turn.t("common.button_invalid"))
        return
    broadcast = await Broadcasts(turn.services.session).get(broadcast_id)
    if broadcast is None:
        turn.reply(turn.t("broadcast.not_found", id=bits[1]))
        return
    await HANDLERS[bits[2]](turn, broadcast)


def _actor(turn: Turn) -> broadcasts.Actor:
    return broadcasts.Actor(turn.person.id, frozenset(turn.roles))


async def edit(turn: Turn, broadcast: Broadcast) -> None:
    try:
        await broadcasts.editable(turn.services, broadcast.id, _actor(turn))
    except Refused as refused:
        turn.reply(turn.t(refused.key, **refused.params))
        return
    await turn.begin(NAME, **draft_of(broadcast))


CANCEL_TEXTS = {
    CancelOutcome.CANCELLED: "bmanage.cancelled",
    CancelOutcome.ALREADY_SENT: "bmanage.cancel_too_late",
    CancelOutcome.ALREADY_CANCELLED: "bmanage.already_cancelled",
    CancelOutcome.NOT_FOUND: "broadcast.not_found",
}


async def cancel(turn: Turn, broadcast: Broadcast) -> None:
    try:
        outcome, withdrawn = await broadcasts.cancel(turn.services, broadcast.id, _actor(turn))
    except Refused as refused:
        turn.reply(turn.t(refused.key, **refused.params))
        return
    turn.reply(turn.t(CANCEL_TEXTS[outcome], id=broadcast.id, count=withdrawn))


async def status(turn: Turn, broadcast: Broadcast) -> None:
    found = await broadcast_status(turn.services.session, broadcast.id)
    if found is None:
        turn.reply(turn.t("broadcast.not_found", id=broadcast.id))
        return
    state = turn.t(f"bmanage.status_{found.status}")
    text = turn.t("bmanage.status_header", id=broadcast.id, status=state)
    choices = []
    if found.replies:
        choices.append(
            Choice(turn.t("bmanage.read_replies", id=broadcast.id), f"{P}:{broadcast.id}:replies")
        )
    turn.reply(text + "\n" + figures(turn, found), choices)


async def replies(turn: Turn, broadcast: Broadcast) -> None:
    """The latest replies with who wrote them (replies to a broadcast are not anonymous)."""
    services = turn.services
    found = (await Responses(services.session).replies(broadcast.id))[-REPLIES_SHOWN:]
    if not found:
        turn.reply(turn.t("bmanage.no_replies", id=broadcast.id))
        return
    names = {
        p.id: p for p in await services.people_by_ids({r.person_id for r in found if r.person_id})
    }
    lines = [turn.t("bmanage.replies_header", id=broadcast.id, count=len(found)), ""]
    for reply in found:
        person = names.get(reply.person_id or 0)
        who = f"{person.name} ({person.department or '-'})" if person else "—"
        lines.append(f"• {who}: {reply.text}")
    turn.reply("\n".join(lines))


HANDLERS = {"edit": edit, "cancel": cancel, "status": status, "replies": replies}


def register(registry: Registry) -> None:
    registry.command(
        "commands.broadcasts", list_broadcasts, or_only=True, help_key="bmanage.help_list"
    )
    registry.command(
        "commands.new_broadcast", new_broadcast, or_only=True, help_key="bmanage.help_new"
    )
    registry.action(P, on_manage_button)
