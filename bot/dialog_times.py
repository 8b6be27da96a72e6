"""A time step of a guided dialog: read the typed time, ask back, and say what was understood.

Every time a moderator types (a poll's or question's closing time, a broadcast's sending
time, a nomination round's close) is read by the one rule-based parser (bot/understand/times.py)
in the configured time zone (Europe/Amsterdam, DST included). What it cannot decide is asked
back, never guessed:

- two readings ("om 6", "half 8", "5:30", "volgende vrijdag", the hour the clocks go back):
  a button for each, and the re-ask says which readings there are;
- a moment already gone ("vrijdag 8:00" on Friday afternoon): said so, with the next
  occurrence as a button when there is an obvious one;
- not a time ("6", "gisteren"): why, and examples that work.

A picked reading comes back as the button '<prefix>:at:<unix seconds>', so nothing is kept
between the question and the answer. The dialog checks the moment with its use case's rule
(after opening, not in the past) and, once it is taken, echoes it in words
("Genoteerd: vrijdag 4 december om 17:00") so a misreading is seen at once; 'terug' undoes it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.conversation import Turn
from bot.dialog_steps import Refusal, one_of, quoted
from bot.messages import Choice
from bot.text import ascii_int
from bot.understand.times import AmbiguousTime, At, NoTime, Past, parse_time, say_when

# NoTime reasons with a text of their own; the others get the general one.
# A pressed reading is a Unix time; a forged one beyond year 9999 would not be a datetime.
MAX_SECONDS = 253_402_300_799
_REASONS = frozenset({"bare_number", "foreign_digits", "dst_gap", "no_such_date"})


def words(turn: Turn, when: datetime) -> str:
    """`when` in words in the person's language ("vrijdag 4 december om 17:00")."""
    services = turn.services
    return say_when(when, turn.lang, tz=services.settings.timezone, now=services.now)


def read_time(turn: Turn, prefix: str) -> datetime | Refusal:
    """The moment a pressed reading or typed text names, or why it is asked again."""
    services = turn.services
    tz = services.settings.timezone
    picked = (turn.choice or "").removeprefix(f"{prefix}:at:")
    if turn.choice and picked != turn.choice:
        seconds = ascii_int(picked, high=MAX_SECONDS)
        if seconds is None:
            return Refusal("dialog.pick_one")
        return datetime.fromtimestamp(seconds, UTC).astimezone(tz)
    if turn.incoming.choice:
        return Refusal("dialog.pick_one")
    typed = quoted(turn.text)
    read = parse_time(turn.text, now=services.now, tz=tz)
    if isinstance(read, At):
        return read.when
    if isinstance(read, AmbiguousTime):
        said = [words(turn, o) for o in read.options]
        return Refusal(
            "dialog.time_ambiguous",
            {"typed": typed, "options": one_of(turn, said)},
            [_button(prefix, o, s) for o, s in zip(read.options, said, strict=True)],
        )
    if isinstance(read, Past):
        if read.suggestion is None:
            return Refusal("dialog.time_past", {"when": words(turn, read.when)})
        later = words(turn, read.suggestion)
        return Refusal(
            "dialog.time_past_next",
            {"when": words(turn, read.when), "next": later},
            [_button(prefix, read.suggestion, later)],
        )
    assert isinstance(read, NoTime)
    reason = read.reason if read.reason in _REASONS else "unknown"
    return Refusal(f"dialog.time_{reason}", {"typed": typed})


def _button(prefix: str, when: datetime, label: str) -> Choice:
    return Choice(label, f"{prefix}:at:{int(when.timestamp())}")


def echo(turn: Turn, when: datetime) -> None:
    """Say the moment taken, so a misreading shows at once ('terug' to change it); when the
    person named a day but no time ("morgen"), say that the hour was chosen for them."""
    services = turn.services
    typed = None
    if turn.text and not turn.incoming.choice:
        typed = parse_time(turn.text, now=services.now, tz=services.settings.timezone)
    assumed = isinstance(typed, At) and typed.assumed_time and typed.when == when
    key = "dialog.time_taken_assumed" if assumed else "dialog.time_taken"
    turn.reply(turn.t(key, when=words(turn, when)))
