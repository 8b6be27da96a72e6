"""Step 4 of the flow: decide what an event means for this person."""

from __future__ import annotations

from bot.choices import fold, match_choice
from bot.conversation import Turn
from bot.i18n import all_words


async def route(turn: Turn) -> None:
    """Button payload → its action (valid days later, whatever dialog is active); else the
    active dialog's step; else the menu. Cancel words leave any dialog (the innermost one: a
    dialog below it on the stack takes over and asks its question again)."""
    await _route(turn)
    turn.resume()


async def _route(turn: Turn) -> None:
    conversation, registry = turn.conversation, turn.registry
    turn.choice = turn.incoming.choice or await _typed_choice(turn)
    if turn.choice:
        prefix = turn.choice.split(":", 1)[0]
        if prefix in registry.actions:
            turn.acting = True  # a dialog the action begins is stacked on the running one
            await registry.actions[prefix](turn, turn.choice)
            return
    if not turn.incoming.choice and fold(turn.text) in all_words("commands.cancel"):
        if conversation.dialog:
            turn.end()
            turn.reply(turn.t("common.cancelled"))
            return
        if registry.find_command(turn.text) is None:
            turn.reply(turn.t("common.nothing_to_cancel"))
            return
        # With no dialog running, a cancel word that is also a command is that command:
        # 'stop' unsubscribes from broadcasts (WhatsApp requires honouring STOP).
    if conversation.dialog in registry.dialogs:
        await registry.dialogs[conversation.dialog].step(turn)
        return
    if turn.incoming.choice:
        # A dialog button pressed after its dialog ended.
        turn.reply(turn.t("common.button_expired"))
        return
    await registry.dialogs["menu"].step(turn)


async def _typed_choice(turn: Turn) -> str | None:
    """A typed number/label matched against the question the person was last asked."""
    if not turn.text:
        return None
    asked = await turn.last_asked()
    if asked is None:
        return None
    choices, multiple = list(asked.choices), asked.multiple
    if turn.conversation.dialog:
        return match_choice(turn.text, choices, multiple=multiple)
    exact = match_choice(turn.text, choices, multiple=multiple)
    if exact or turn.registry.find_command(turn.text):
        return exact  # a command word beats a fragment of an option label
    return match_choice(turn.text, choices, multiple=multiple, fragment=True)
