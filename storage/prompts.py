"""What the person was last asked: one shape, two places, one reader (`last_asked`).

A question with choices may be answered by typing its number or label, so the bot must know
the question the person saw last. It lives in one of two places:

- while a dialog runs, in the dialog's state under `_asked` (written by `remember`). This one
  wins: the person is answering the dialog, and a poll notice that someone else's action queued
  for them a moment ago must not turn "2" typed into a poll draft into a vote. It also keeps the
  question's text, so a dialog that was interrupted by another (the stack in
  bot/conversation.py) can ask it again when it resumes.
- outside any dialog, in the `prompt` of the newest outbox row that carried choices (written
  with the row, `outbox_prompt`). A fan-out to thousands writes outbox rows, not the
  recipients' conversation rows, which it could not lock without serialising on every person.

Both are the same JSON ({"choices": [[label, payload], …], "multiple": bool}); the dialog's
copy adds the text and whether typed answers count (`typed`: only for `Turn.ask`, so a reason
typed as "1" next to a 'back' button stays a reason).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.messages import Choice, Outgoing
from storage.models import OutboxMessage
from storage.raw import Query
from storage.unit import Store, raw

ASKED = "_asked"

_RECENT = (
    "SELECT prompt FROM outbox WHERE person_id = $1 AND prompt IS NOT NULL "
    "ORDER BY id DESC LIMIT {limit}"
)
_PROMPT = (OutboxMessage.__table__.c.prompt.type,)
_LATEST = Query(_RECENT.format(limit=1), params=(None,), columns=_PROMPT)
# Older polls the person may still answer are among their last prompts (bot/poll_answers.py).
_LAST_FEW = Query(_RECENT.format(limit=50), params=(None,), columns=_PROMPT)


@dataclass(frozen=True, slots=True)
class Asked:
    """The question a person saw last: its choices and, in a dialog, its text."""

    choices: tuple[Choice, ...]
    multiple: bool = False
    # None outside a dialog, and for a sealed reply (its text repeats an anonymous act).
    text: str | None = None
    typed: bool = True

    @classmethod
    def from_json(cls, raw_json: Mapping[str, Any]) -> Asked:
        return cls(
            choices=tuple(Choice(label, payload) for label, payload in raw_json.get("choices", [])),
            multiple=bool(raw_json.get("multiple")),
            text=raw_json.get("text"),
            typed=bool(raw_json.get("typed", True)),
        )

    def outgoing(self) -> Outgoing | None:
        """The question again, as it was sent (None when its text was not kept)."""
        if self.text is None:
            return None
        return Outgoing(text=self.text, choices=self.choices, multiple=self.multiple)


def outbox_prompt(outgoing: Outgoing) -> dict[str, Any]:
    """The `prompt` column of an outbox row that asks something, outside a dialog."""
    return {
        "choices": [[c.label, c.payload] for c in outgoing.choices],
        "multiple": outgoing.multiple,
    }


def sealed_prompt(prompt: dict[str, Any] | None) -> dict[str, Any] | None:
    """The prompt of a sealed reply: its buttons may carry an anonymous act (a vote's payload,
    in "did you mean A or B?"), so none is kept. It still stands as the latest prompt, so a
    typed "1" after it is not read against an older poll's options (a misread); the buttons,
    in the sealed message, still work."""
    return None if prompt is None else {"choices": [], "multiple": False, "sealed": True}


def remember(
    state: Mapping[str, Any], outgoing: Outgoing, *, typed: bool, keep_text: bool
) -> dict[str, Any]:
    """The dialog state with `outgoing` as what was last asked (a fresh dict: JSON columns are
    compared by identity)."""
    asked = outbox_prompt(outgoing) | {"typed": typed}
    if keep_text:
        asked["text"] = outgoing.text
    return {**state, ASKED: asked}


async def last_asked(
    store: Store, person_id: int, dialog: str | None, state: Mapping[str, Any]
) -> Asked | None:
    """What a typed answer answers: the running dialog's question, else the newest outbox
    prompt. In a dialog, a question that did not take typed answers gives no choices."""
    if dialog is not None:
        asked = state.get(ASKED)
        if not asked and state.get("_choices"):
            # A dialog that asked before `_asked` existed (state kept across a deploy).
            asked = {"choices": state["_choices"], "multiple": bool(state.get("_multi"))}
        if not asked:
            return None
        found = Asked.from_json(asked)
        return found if found.typed else None
    row = await (await raw(store)).fetchrow(_LATEST, person_id)
    return None if row is None or not row[0] else Asked.from_json(row[0])


async def recent_prompts(store: Store, person_id: int) -> list[dict[str, Any]]:
    """The person's last prompts as stored, newest first (at most 50). Outside a dialog the
    first is what a typed answer answers (`newest`): a typed vote reads them once for both."""
    rows = await (await raw(store)).fetch(_LAST_FEW, person_id)
    return [row[0] for row in rows if row[0]]


def newest(prompts: list[dict[str, Any]]) -> Asked | None:
    """What a typed answer outside a dialog answers, from `recent_prompts`: the newest, as
    `last_asked` finds it."""
    return Asked.from_json(prompts[0]) if prompts else None


async def latest_prompt(store: Store, person_id: int) -> dict[str, Any] | None:
    """The newest outbox prompt as stored (for callers that only look outside dialogs)."""
    row = await (await raw(store)).fetchrow(_LATEST, person_id)
    return None if row is None else row[0]
