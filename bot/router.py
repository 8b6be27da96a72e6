"""Step 4 of the flow: decide what an event means for this person."""

from __future__ import annotations

from bot.choices import fold, match_choice
from bot.conversation import Turn
from bot.i18n import all_words
from bot.messages import Choice
from storage.prompts import latest_prompt


async def route(turn: Turn) -> None:
    """Button payload → its action (valid days later, whatever dialog is active); else the
    active dialog's step; else the menu. Cancel words leave any dialog."""
    conversation, registry = turn.conversation, turn.registry
    turn.choice = turn.incoming.choice or await _typed_choice(turn)
    if turn.choice:
        prefix = turn.choice.split(":", 1)[0]
        if prefix in registry.actions:
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
    if turn.conversation.dialog:
        choices, multiple = turn.dialog_choices()
        return match_choice(turn.text, choices, multiple=multiple)
    prompt = await latest_prompt(turn.services.store, turn.person.id)
    if not prompt:
        return None
    choices = [Choice(label, payload) for label, payload in prompt.get("choices", [])]
    multiple = bool(prompt.get("multiple"))
    exact = match_choice(turn.text, choices, multiple=multiple)
    if exact or turn.registry.find_command(turn.text):
        return exact  # a command word beats a fragment of an option label
    return match_choice(turn.text, choices, multiple=multiple, fragment=True)
