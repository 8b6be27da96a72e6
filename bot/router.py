"""Step 4 of the flow: decide what an event means for this person."""

from __future__ import annotations

from bot.choices import fold, match_choice
from bot.conversation import Turn
from bot.i18n import all_words
from bot.poll_answers import (
    asked_job_instead,
    keep_remark,
    poll_of,
    read_poll_answer,
    read_prompt_answer,
)
from bot.text import ascii_int
from storage.prompts import newest, recent_prompts


async def route(turn: Turn) -> None:
    """Button payload → its action (valid days later, whatever dialog is active); else the
    active dialog's step; else the menu. Cancel words leave any dialog (the innermost one: a
    dialog below it on the stack takes over and asks its question again)."""
    await _route(turn)
    turn.resume()


async def _route(turn: Turn) -> None:
    conversation, registry = turn.conversation, turn.registry
    remark = ""
    if turn.incoming.choice:
        turn.choice = turn.incoming.choice
    else:
        turn.choice, remark, handled = await _typed_choice(turn)
        if handled:
            return  # the reply fitted several readings and the bot asked which one
    if turn.choice:
        prefix = turn.choice.split(":", 1)[0]
        if prefix in registry.actions:
            turn.acting = True  # a dialog the action begins is stacked on the running one
            await registry.actions[prefix](turn, turn.choice)
            if remark:
                # "nee, de broek is te warm": kept with a named vote, dropped with a word for
                # an anonymous poll.
                await keep_remark(turn, turn.choice, remark)
            return
    cancel = not turn.incoming.choice and fold(turn.text) in all_words("commands.cancel")
    if cancel and conversation.dialog:
        # With no dialog running the menu answers it: 'stop' ends nothing and never
        # unsubscribes; it offers the opt-out from news with a button (issue 13).
        turn.end()
        turn.reply(turn.t("common.cancelled"))
        return
    if conversation.dialog in registry.dialogs:
        await registry.dialogs[conversation.dialog].step(turn)
        return
    if turn.incoming.choice:
        # A dialog button pressed after its dialog ended.
        turn.reply(turn.t("common.button_expired"))
        return
    await registry.dialogs["menu"].step(turn)


async def _typed_choice(turn: Turn) -> tuple[str | None, str, bool]:
    """A typed answer to the question the person was last asked: (choice payload, remark,
    whether the bot already asked back). In a dialog, its own question by number or label;
    outside one, a poll answer as colleagues type it (bot/poll_answers.py) after command words,
    so "menu" is never a vote; other prompts by number, label or fragment."""
    if not turn.text or turn.incoming.attachments:
        return None, "", False  # a photo's caption is no answer (it describes the photo)
    if turn.conversation.dialog:
        asked = await turn.last_asked()
        if asked is None:
            return None, "", False
        return match_choice(turn.text, list(asked.choices), multiple=asked.multiple), "", False
    # One read for the latest prompt and the other polls a typed vote may be meant for.
    recent = await recent_prompts(turn.services.store, turn.person.id)
    asked = newest(recent)
    exact = None
    poll_prompt = asked is not None and poll_of(asked) is not None
    if asked is not None:
        exact = match_choice(turn.text, list(asked.choices), multiple=asked.multiple)
        if exact and not (poll_prompt and ascii_int(turn.text.strip()) is not None):
            return exact, "", False  # a label typed in full beats a command word
    if turn.registry.find_command(turn.text) or fold(turn.text) in all_words("commands.cancel"):
        # A command word beats a fragment of an option label; so does 'stop', which is no
        # command outside a dialog but must never become a vote for "Stop de …".
        return None, "", False
    if asked is None or poll_prompt or not asked.choices:
        # A number may be meant for another open poll when the latest can take no answer.
        reading = await read_poll_answer(turn, asked, recent)
        if await asked_job_instead(turn, reading):
            return None, "", True
        if reading.choice or reading.handled:
            return reading.choice, reading.remark, reading.handled
        return exact, "", False  # the latest poll's own refusal (closed, already voted)
    fragment = match_choice(turn.text, list(asked.choices), multiple=asked.multiple, fragment=True)
    if fragment:
        return fragment, "", False
    # "ja" to "Heb je interesse?": read as colleagues type (yes/no/don't know, typos).
    reading = read_prompt_answer(turn, asked)
    return reading.choice, "", reading.handled
