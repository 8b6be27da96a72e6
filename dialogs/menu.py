"""The menu: greeting, help by role, language, and dispatch of typed commands."""

from __future__ import annotations

from typing import ClassVar

from bot.choices import fold
from bot.conversation import Turn
from bot.i18n import LANGUAGES, all_words
from bot.messages import Choice
from bot.registry import Registry
from bot.text import first_name
from bot.understand.normalize import words
from dialogs.broadcast import collect_reply
from dialogs.poll_commands import list_open_polls


class Menu:
    """What free text with no dialog running means: a command, a photo (a report), 'stop'
    with nothing to stop, a job asked for in the person's own words (dialogs/intents.py), a
    reply to a broadcast, or else "not understood"."""

    name: ClassVar[str] = "menu"

    async def start(self, turn: Turn) -> None:
        await show_help(turn, "")

    async def step(self, turn: Turn) -> None:
        from dialogs import intents  # intents acts through this module's handlers

        found = turn.registry.find_command(turn.text)
        if found is None:
            if turn.incoming.attachments:
                # A photo with no dialog running starts an unsafe-situation report.
                await turn.begin("unsafe_report")
            elif not turn.text:
                await show_help(turn, "")
            elif " ".join(words(turn.text)) in all_words("commands.cancel"):
                # 'stop' with nothing running: it unsubscribes nobody (issue 13).
                intents.nothing_to_stop(turn)
            elif not await intents.act_on_intent(turn) and not await collect_reply(turn):
                # No choices here: an unrecognised message must not replace the question the
                # person was answering (a typed number still goes to it). Text answering a
                # broadcast is kept as a reply to it.
                turn.reply(turn.t("menu.unknown"))
            return
        cmd, rest = found
        if cmd.or_only and not require_or(turn):
            return
        await cmd.handler(turn, rest)


def require_or(turn: Turn) -> bool:
    if turn.is_or_member:
        return True
    turn.reply(turn.t("menu.or_only"))
    return False


def menu_choices(turn: Turn) -> list[Choice]:
    choices = [
        Choice(turn.t("menu.button_polls"), "menu:polls"),
        Choice(turn.t("menu.button_language"), "menu:language"),
    ]
    if turn.is_or_member:
        choices.append(Choice(turn.t("menu.button_new_poll"), "menu:new_poll"))
    return choices


async def show_help(turn: Turn, _rest: str = "") -> None:
    greeting = turn.t("menu.greeting", name=first_name(turn.person.name))
    lines = [greeting, "", turn.t("menu.help_everyone")]
    lines += [turn.t(c.help_key) for c in turn.registry.commands if c.help_key and not c.or_only]
    lines.append(turn.t("menu.help_cancel"))
    lines += ["", turn.t("intent.help_free_text")]
    if turn.is_or_member:
        lines += ["", turn.t("menu.help_or")]
        lines += [turn.t(c.help_key) for c in turn.registry.commands if c.help_key and c.or_only]
    turn.reply("\n".join(lines), menu_choices(turn))


async def ask_language(turn: Turn, rest: str) -> None:
    wanted = fold(rest)[:2]
    if wanted in LANGUAGES:
        await set_language(turn, wanted)
        return
    turn.reply(
        turn.t("menu.choose_language"),
        [Choice("Nederlands", "lang:nl"), Choice("English", "lang:en")],
    )


async def set_language(turn: Turn, lang: str) -> None:
    turn.person.language = lang
    turn.reply(turn.t("menu.language_set"))


async def on_menu_button(turn: Turn, payload: str) -> None:
    what = payload.partition(":")[2]
    if what == "polls":
        await list_open_polls(turn, "")
    elif what == "language":
        await ask_language(turn, "")
    elif what == "new_poll":
        if require_or(turn):
            await turn.begin("poll_create")
    else:
        turn.reply(turn.t("common.button_invalid"))


async def on_language_button(turn: Turn, payload: str) -> None:
    lang = payload.partition(":")[2]
    if lang in LANGUAGES:
        await set_language(turn, lang)
    else:
        turn.reply(turn.t("common.button_invalid"))


def register(registry: Registry) -> None:
    registry.dialog(Menu())
    registry.command("commands.help", show_help)
    registry.command("commands.language", ask_language, help_key="menu.help_language")
    registry.action("menu", on_menu_button)
    registry.action("lang", on_language_button)
