"""The menu: greeting, help by role, language, and the commands that start other jobs."""

from __future__ import annotations

from bot.i18n import LANGUAGES, all_words
from bot.messages import Choice
from dialogs import poll
from dialogs.base import Turn, action, fold, register
from storage.people import Audience
from storage.polls import OPEN


def _command(text: str) -> tuple[str, str]:
    """The command word(s) and the rest: 'resultaten 12' → ('resultaten', '12')."""
    words = fold(text).split()
    if not words:
        return "", ""
    if len(words) >= 2 and " ".join(words[:2]) in _TWO_WORD:
        return " ".join(words[:2]), " ".join(words[2:])
    return words[0], " ".join(words[1:])


_TWO_WORD = all_words("commands.new_poll") | all_words("commands.nonvoters")


def _is(word: str, key: str) -> bool:
    return word in all_words(key)


class Menu:
    name = "menu"

    async def start(self, turn: Turn) -> None:
        await show_help(turn)

    async def step(self, turn: Turn) -> None:
        word, rest = _command(turn.text)
        if not word and turn.incoming.attachments:
            turn.reply(turn.t("menu.attachment_unexpected"))
        elif _is(word, "commands.help") or not word:
            await show_help(turn)
        elif _is(word, "commands.language"):
            await ask_language(turn, rest)
        elif _is(word, "commands.polls"):
            await list_open_polls(turn)
        elif _is(word, "commands.results"):
            await _with_poll_id(turn, rest, poll.show_results, or_only=False)
        elif _is(word, "commands.new_poll"):
            if _require_or(turn):
                await turn.begin("poll_create")
        elif _is(word, "commands.close"):
            await _with_poll_id(turn, rest, close_poll_command, or_only=True)
        elif _is(word, "commands.nonvoters"):
            await _with_poll_id(turn, rest, list_nonvoters, or_only=True)
        else:
            turn.reply(turn.t("menu.unknown"), _menu_choices(turn))


register(Menu())


def _require_or(turn: Turn) -> bool:
    if turn.is_or_member:
        return True
    turn.reply(turn.t("menu.or_only"))
    return False


async def _with_poll_id(turn: Turn, rest: str, fn: object, *, or_only: bool) -> None:
    if or_only and not _require_or(turn):
        return
    number = rest.lstrip("#").strip()
    if not number.isdigit():
        turn.reply(turn.t("menu.need_poll_id"))
        return
    await fn(turn, int(number))  # type: ignore[operator]


def _menu_choices(turn: Turn) -> list[Choice]:
    choices = [
        Choice(turn.t("menu.button_polls"), "menu:polls"),
        Choice(turn.t("menu.button_language"), "menu:language"),
    ]
    if turn.is_or_member:
        choices.append(Choice(turn.t("menu.button_new_poll"), "menu:new_poll"))
    return choices


async def show_help(turn: Turn) -> None:
    text = turn.t("menu.greeting", name=turn.person.name) + "\n\n" + turn.t("menu.help_everyone")
    if turn.is_or_member:
        text += "\n\n" + turn.t("menu.help_or")
    turn.reply(text, _menu_choices(turn))


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


async def list_open_polls(turn: Turn) -> None:
    """Re-send every open poll the person may answer (so buttons are at hand again)."""
    services = turn.services
    sent = 0
    for p in reversed(await services.polls.recent(status=OPEN, limit=50)):
        if not await services.people.in_audience(turn.person.id, Audience.from_dict(p.audience)):
            continue
        message = poll.poll_message(services, p, await services.polls.options(p.id), turn.lang)
        turn.reply(message.text, message.choices, multiple=message.multiple)
        sent += 1
    if not sent:
        turn.reply(turn.t("menu.no_open_polls"))


async def close_poll_command(turn: Turn, poll_id: int) -> None:
    found = await turn.services.polls.get(poll_id)
    if found is None:
        turn.reply(turn.t("poll.not_found", id=poll_id))
    elif await poll.close_poll(turn.services, found, actor_id=turn.person.id):
        turn.reply(turn.t("poll.closed_by_you", id=poll_id))
    else:
        turn.reply(turn.t("poll.not_open", id=poll_id))


async def list_nonvoters(turn: Turn, poll_id: int) -> None:
    found = await turn.services.polls.get(poll_id)
    if found is None:
        turn.reply(turn.t("poll.not_found", id=poll_id))
        return
    if found.anonymous:
        turn.reply(turn.t("poll.nonvoters_anonymous"))
        return
    audience = await turn.services.people.audience_ids(Audience.from_dict(found.audience))
    missing = await turn.services.polls.nonvoters(found, audience)
    names = "\n".join(f"- {p.name} ({p.department or '-'})" for p in missing)
    turn.reply(
        turn.t("poll.nonvoters", id=poll_id, count=len(missing)) + ("\n" + names if names else "")
    )


@action("menu")
async def on_menu_button(turn: Turn, payload: str) -> None:
    what = payload.partition(":")[2]
    if what == "polls":
        await list_open_polls(turn)
    elif what == "language":
        await ask_language(turn, "")
    elif what == "new_poll" and _require_or(turn):
        await turn.begin("poll_create")
    elif what not in ("polls", "language", "new_poll"):
        turn.reply(turn.t("common.button_invalid"))


@action("lang")
async def on_language_button(turn: Turn, payload: str) -> None:
    lang = payload.partition(":")[2]
    if lang in LANGUAGES:
        await set_language(turn, lang)
    else:
        turn.reply(turn.t("common.button_invalid"))
