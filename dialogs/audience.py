"""The audience step of the creation dialogs (polls, questions, broadcasts, surveys): who gets
it — everyone, a department, a location, and for a broadcast everyone on one channel.

One home for the rule, so the four dialogs offer the same audiences with the same words and
read a typed answer the same way: a button, its number, or a fragment of its label
("productie" for "Afdeling Productie"); two fits are asked back (bot.dialog_steps.choose),
never guessed. The audiences are stored in the dialog state when offered, so an answer reads
against what the person saw even if the roster changed in between.
"""

from __future__ import annotations

from typing import Any

from bot.conversation import Turn
from bot.dialog_steps import Refusal, choose
from bot.messages import Choice
from bot.text import ascii_int
from storage.broadcasts import Broadcasts

SEGMENTS = "segments"
EVERYONE = "all"


class AudienceStep:
    """Offer and read an audience; `prefix` is the dialog's button prefix."""

    def __init__(self, prefix: str, *, channels: bool = False) -> None:
        self.prefix = prefix
        self.channels = channels

    async def offer(self, turn: Turn) -> list[Choice]:
        """The audiences as buttons, remembered in the state for the answer."""
        people = turn.services.people
        segments = [["department", d] for d in await people.departments()]
        segments += [["location", loc] for loc in await people.locations()]
        if self.channels:
            stored = Broadcasts(turn.services.session)
            segments += [["channel", c] for c in await stored.channels_in_use()]
        turn.set(**{SEGMENTS: segments})
        return self.choices(turn)

    def choices(self, turn: Turn) -> list[Choice]:
        """The audiences as they were offered."""
        choices = [Choice(turn.t("create.everyone"), f"{self.prefix}:aud:{EVERYONE}")]
        for i, (kind, value) in enumerate(turn.state.get(SEGMENTS, [])):
            key = "bcreate.channel" if kind == "channel" else f"create.{kind}"
            choices.append(Choice(turn.t(key, name=value), f"{self.prefix}:aud:{i}"))
        return choices

    def parse(self, turn: Turn) -> Any:
        """The chosen segment as `[kind, value]`, None for everyone, or a Refusal."""
        picked = choose(turn, self.choices(turn))
        if isinstance(picked, Refusal):
            return picked
        index = picked.removeprefix(f"{self.prefix}:aud:")
        if index == EVERYONE:
            return None
        segments = turn.state.get(SEGMENTS, [])
        n = ascii_int(index, high=len(segments) - 1)
        return Refusal("dialog.pick_one") if n is None else list(segments[n])

    def as_audience(self, segment: list[str] | None) -> dict[str, str]:
        """A department or location segment as the use cases' audience mapping."""
        return {} if segment is None else {segment[0]: segment[1]}
