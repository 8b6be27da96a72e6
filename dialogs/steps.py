"""The step trail behind 'terug' / 'back', shared by the guided dialogs of issue 4.

A dialog moves on with `advance(turn, NEXT, …)`, which remembers the step it leaves; `back`
returns to it. The trail is plain JSON in the dialog state, like everything else there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.choices import fold
from bot.conversation import Turn
from bot.i18n import all_words
from bot.messages import Choice


def advance(turn: Turn, step: str, **values: Any) -> None:
    current = turn.state.get("step")
    trail = list(turn.state.get("trail", []))
    if current and current != step:
        trail.append(current)
    turn.set(step=step, trail=trail, **values)


def wants_back(turn: Turn, prefix: str) -> bool:
    """A pressed or typed 'back' (button payload '<prefix>:back', or a back word)."""
    if turn.choice == f"{prefix}:back":
        return True
    return not turn.incoming.choice and fold(turn.text) in all_words("commands.back")


def back(turn: Turn) -> str | None:
    """Step back; the step now current, or None when already at the first one."""
    trail = list(turn.state.get("trail", []))
    if not trail:
        return None
    previous = str(trail.pop())
    turn.set(step=previous, trail=trail)
    return previous


async def go_back(turn: Turn, prefix: str, ask: Callable[[Turn], Awaitable[None]]) -> bool:
    """Handle a 'back': step back (or say this is the first step) and ask again.

    True when the message was a 'back' and has been handled."""
    if not wants_back(turn, prefix):
        return False
    if back(turn) is None:
        turn.reply(turn.t("steps.first"))
    await ask(turn)
    return True


def back_choice(turn: Turn, prefix: str) -> Choice:
    return Choice(turn.t("steps.back"), f"{prefix}:back")
