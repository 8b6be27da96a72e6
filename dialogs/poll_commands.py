"""Typed poll commands: list open polls, results, and for the OR new/close/who-has-not-voted."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.conversation import Turn
from bot.registry import Registry
from bot.text import ascii_int
from dialogs import poll
from storage.people import Audience
from storage.polls import OPEN


def _poll_id(turn: Turn, rest: str) -> int | None:
    number = ascii_int(rest.lstrip("#").strip())
    if number is not None:
        return number
    turn.reply(turn.t("menu.need_poll_id"))
    return None


def _with_poll_id(
    fn: Callable[[Turn, int], Awaitable[None]],
) -> Callable[[Turn, str], Awaitable[None]]:
    async def handler(turn: Turn, rest: str) -> None:
        poll_id = _poll_id(turn, rest)
        if poll_id is not None:
            await fn(turn, poll_id)

    return handler


async def list_open_polls(turn: Turn, _rest: str) -> None:
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


async def new_poll(turn: Turn, _rest: str) -> None:
    await turn.begin("poll_create")


async def close_poll(turn: Turn, poll_id: int) -> None:
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
    lines = [turn.t("poll.nonvoters", id=poll_id, count=len(missing))]
    lines += [f"- {p.name} ({p.department or '-'})" for p in missing]
    turn.reply("\n".join(lines))


def register(registry: Registry) -> None:
    registry.command("commands.polls", list_open_polls, help_key="poll.help_polls")
    registry.command(
        "commands.results", _with_poll_id(poll.show_results), help_key="poll.help_results"
    )
    registry.command("commands.new_poll", new_poll, or_only=True, help_key="poll.help_new")
    registry.command(
        "commands.close", _with_poll_id(close_poll), or_only=True, help_key="poll.help_close"
    )
    registry.command(
        "commands.nonvoters",
        _with_poll_id(list_nonvoters),
        or_only=True,
        help_key="poll.help_nonvoters",
    )
