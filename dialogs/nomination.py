"""Nominating colleagues for the OR during a campaign: who? (matched against the roster) →
which one? (when several fit) → a reason for this colleague → another one? → confirmation.

On the dialog base (bot/dialog_steps.py): 'terug', 'stop', 'help' work at every step, and a
re-ask says why. Names are found as people type them: the roster search first (exact name,
parts of names, accents and case aside), then a typo-tolerant one (bot/understand/names.py:
"mariek van dijck", "marike", "jerun"). Several fits are always asked back with buttons, never
guessed. "ik wil marieke nomineren" starts here with Marieke proposed. Each nominee gets their
own reason (the nominee reads it). Nominating yourself is recorded as "wants to be a
candidate".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from bot.choices import fold
from bot.conversation import Turn
from bot.dialog_steps import STEP, TRAIL, Prompt, Refusal, Step, StepDialog, wants_back
from bot.messages import Choice
from bot.registry import Registry
from bot.text import ascii_int
from bot.understand.answers import Ambiguous, Matched, understand_answer
from bot.understand.choices import polarity_of
from bot.understand.names import fuzzy_names, typed_words
from bot.understand.normalize import words
from bot.usecases import Refused
from bot.usecases.nominations import (
    MAX_REASON,
    NOMINATE_BUTTON,
    accepting_round,
    check_pick,
    check_reason,
    nominate,
)
from storage.models import Person
from storage.roster_search import people_by_id, search_roster, typo_candidates

NAME = "nominate"
P = "nm"
MAX_MATCHES = 10
WHO, CHOOSE, REASON, ANOTHER, CONFIRM = "who", "choose", "reason", "another", "confirm"
PICK_ONE = Refusal("dialog.pick_one")
SKIP = object()
AGAIN = object()
# A pick in the state: [person id, name, department, reason or None].
Pick = list[Any]


class Nominate(StepDialog):
    name: ClassVar[str] = NAME
    prefix: ClassVar[str | None] = P

    def steps(self) -> Sequence[Step]:
        return tuple(
            Step(name, ask, parse, accept, f"nomination.help_{name}")
            for name, (ask, parse, accept) in (
                (WHO, (self._ask_who, self._parse_who, self._who)),
                (CHOOSE, (self._ask_choose, self._parse_choose, self._choose)),
                (REASON, (self._ask_reason, self._parse_reason, self._reason)),
                (ANOTHER, (self._ask_another, self._parse_another, self._another)),
                (CONFIRM, (self._ask_confirm, self._parse_confirm, self._confirm)),
            )
        )

    def initial_state(self, turn: Turn) -> dict[str, Any]:
        return {"picks": []}

    async def start(self, turn: Turn) -> None:
        """With a name typed along ("ik wil marieke nomineren") the search runs at once."""
        turn.sealed = bool(turn.state.get("anonymous"))
        proposed = str(turn.state.get("proposed") or "")
        if not proposed:
            await super().start(turn)
            return
        turn.set(**{**self.initial_state(turn), STEP: WHO, TRAIL: [], "proposed": None})
        found = await self._search(turn, proposed)
        if isinstance(found, Refusal):
            await self.ask(turn, WHO, before=turn.t(found.key, **found.params))
            return
        following = await self._who(turn, found)
        if following is None or following == WHO:
            return  # ended, or refused with who asked again already (_add)
        self.move(turn, following)
        await self.ask(turn, following)

    async def step(self, turn: Turn) -> None:
        # In an anonymous round every reply may name whom this person nominates.
        turn.sealed = bool(turn.state.get("anonymous"))
        if wants_back(turn, P) and turn.state.get(STEP) == REASON:
            turn.set(picks=_picks(turn)[:-1])  # back from the reason undoes that pick
        await super().step(turn)

    # Who.
    async def _ask_who(self, turn: Turn) -> Prompt:
        return Prompt(turn.t("nomination.ask_who"), self._back_button(turn))

    def _back_button(self, turn: Turn) -> list[Choice]:
        return [Choice(turn.t("steps.back"), f"{P}:back")] if turn.state.get(TRAIL) else []

    async def _parse_who(self, turn: Turn) -> Any:
        if not turn.text or turn.incoming.choice or _yes_or_no(turn.text):
            # "ja" / "nee" here answers an earlier question, it names no one ("ja" is in
            # "Jansen").
            return Refusal("nomination.type_name")
        return await self._search(turn, turn.text)

    async def _search(self, turn: Turn, text: str) -> Any:
        """One person, several to choose from, or why none."""
        session = turn.services.session
        found = await search_roster(session, text, MAX_MATCHES)
        if not found:
            found = await _fuzzy(turn, text)
        if not found:
            return Refusal("nomination.no_match", {"text": text})
        if len(found) > MAX_MATCHES:
            return Refusal("nomination.too_many", {"text": text})
        return [[p.id, p.name, p.department, None] for p in found]

    async def _who(self, turn: Turn, found: list[Pick]) -> str | None:
        if len(found) == 1:
            return await self._add(turn, found[0])
        turn.set(candidates=found)
        return CHOOSE

    # Which one, when several fit.
    async def _ask_choose(self, turn: Turn) -> Prompt:
        choices = [
            Choice(f"{name} ({dept or '-'})", f"{P}:pick:{pid}")
            for pid, name, dept, _r in turn.state.get("candidates", [])
        ]
        choices.append(Choice(turn.t("nomination.search_again"), f"{P}:again"))
        choices.append(Choice(turn.t("steps.back"), f"{P}:back"))
        return Prompt(turn.t("nomination.choose"), choices)

    async def _parse_choose(self, turn: Turn) -> Any:
        candidates = list(turn.state.get("candidates", []))
        choice = turn.choice or ""
        if choice == f"{P}:again":
            return AGAIN
        if not choice and turn.text:
            # "marieke" for "Marieke van Dijk (Productie)": a part of one label.
            labels = [Choice(f"{c[1]} ({c[2] or '-'})", f"{P}:pick:{c[0]}") for c in candidates]
            read = understand_answer(turn.text, labels)
            if isinstance(read, Ambiguous):
                return Refusal("nomination.still_several", {"text": turn.text})
            if isinstance(read, Matched) and len(read.payloads) == 1 and not read.remark:
                choice = read.payloads[0]
        picked = choice.removeprefix(f"{P}:pick:")
        for candidate in candidates:
            if str(candidate[0]) == picked:
                return candidate
        return PICK_ONE

    async def _choose(self, turn: Turn, value: Any) -> str | None:
        if value is AGAIN:
            return WHO
        return await self._add(turn, value)

    async def _add(self, turn: Turn, pick: Pick) -> str | None:
        """The use case checks the pick (round still open, not nominated before, maximum
        not reached), then it joins the list and its reason is asked."""
        picks = _picks(turn)
        try:
            checked = await check_pick(
                turn.services,
                int(turn.state["campaign"]),
                turn.person.id,
                (pick[0], pick[1]),
                [p[0] for p in picks],
            )
        except Refused as refused:
            turn.reply(turn.refusal(refused))
            if refused.key == "nomination.duplicate":
                if turn.state.get(STEP, WHO) == WHO:
                    await self.ask(turn, WHO)  # staying: the base asks only on a move
                return WHO
            if refused.key == "nomination.limit_reached" and picks:
                return CONFIRM
            turn.end()
            return None
        if checked.is_self:
            turn.reply(turn.t("nomination.self"))
        turn.set(picks=[*picks, [*pick[:3], None]], full=checked.full, limit=checked.limit)
        return REASON

    # A reason for the colleague just picked.
    async def _ask_reason(self, turn: Turn) -> Prompt:
        name = _picks(turn)[-1][1] if _picks(turn) else ""
        return Prompt(
            turn.t("nomination.ask_reason_for", name=name, max=MAX_REASON),
            [
                Choice(turn.t("nomination.skip"), f"{P}:skip"),
                Choice(turn.t("steps.back"), f"{P}:back"),
            ],
        )

    async def _parse_reason(self, turn: Turn) -> Any:
        if turn.choice == f"{P}:skip":
            return SKIP
        if turn.incoming.choice or not turn.text or _yes_or_no(turn.text) or _label(turn):
            # "nee" or "Nee, verder" is no reason: asked again, never stored as one.
            return Refusal("nomination.type_reason", {"max": MAX_REASON})
        try:
            return check_reason(turn.text)
        except Refused as refused:
            return Refusal(refused.key, refused.params)

    async def _reason(self, turn: Turn, value: Any) -> str:
        picks = _picks(turn)
        picks[-1] = [*picks[-1][:3], None if value is SKIP else value]
        turn.set(picks=picks)
        if turn.state.get("full"):
            turn.reply(turn.t("nomination.limit_reached", max=turn.state.get("limit")))
            return CONFIRM
        return ANOTHER

    # Another one?
    async def _ask_another(self, turn: Turn) -> Prompt:
        return Prompt(
            turn.t("nomination.picked", names=_names(_picks(turn))),
            [
                Choice(turn.t("nomination.more"), f"{P}:more"),
                Choice(turn.t("nomination.next"), f"{P}:next"),
                Choice(turn.t("steps.back"), f"{P}:back"),
            ],
        )

    async def _parse_another(self, turn: Turn) -> Any:
        choice = turn.choice
        if not choice and turn.text:
            read = understand_answer(turn.text, (await self._ask_another(turn)).choices[:2])
            if isinstance(read, Matched) and len(read.payloads) == 1:
                choice = read.payloads[0]
        if choice in (f"{P}:more", f"{P}:next"):
            return choice
        return PICK_ONE

    async def _another(self, turn: Turn, choice: str) -> str:
        return WHO if choice == f"{P}:more" else CONFIRM

    # Confirmation.
    async def _ask_confirm(self, turn: Turn) -> Prompt:
        lines = [turn.t("nomination.summary", names=_names(_picks(turn)))]
        for _pid, name, _dept, reason in _picks(turn):
            if reason:
                lines.append(turn.t("nomination.summary_reason_for", name=name, reason=reason))
        if turn.state.get("anonymous"):
            lines.append(turn.t("nomination.is_anonymous"))
        return Prompt(
            "\n".join(lines),
            [
                Choice(turn.t("nomination.confirm"), f"{P}:confirm"),
                Choice(turn.t("nomination.discard"), f"{P}:discard"),
                Choice(turn.t("steps.back"), f"{P}:back"),
            ],
        )

    async def _parse_confirm(self, turn: Turn) -> Any:
        if turn.choice in (f"{P}:confirm", f"{P}:discard"):
            return turn.choice
        return PICK_ONE

    async def _confirm(self, turn: Turn, choice: str) -> None:
        campaign_id = int(turn.state["campaign"]) if "campaign" in turn.state else None
        picks = [tuple(p) for p in _picks(turn)]
        turn.end()
        if choice == f"{P}:discard":
            turn.reply(turn.t("common.cancelled"))
            return None
        return await _save(turn, campaign_id, picks)


async def _save(turn: Turn, campaign_id: int | None, picks: list[tuple[Any, ...]]) -> None:
    if campaign_id is None:
        turn.reply(turn.t("common.cancelled"))
        return
    try:
        campaign, saved = await nominate(
            turn.services,
            campaign_id,
            turn.person.id,
            [p[0] for p in picks],
            None,
            reasons={p[0]: p[3] for p in picks},
        )
    except Refused as refused:
        turn.reply(turn.refusal(refused))
        return
    names = ", ".join(p[1] for p in picks if p[0] in saved) or "-"
    turn.reply(turn.t("nomination.thanks", names=names, title=campaign.title))


def _yes_or_no(text: str) -> bool:
    """A reply that is only yes, no or don't know ("ja", "nee hoor", "geen idee")."""
    return polarity_of(words(text)) is not None


def _label(turn: Turn) -> bool:
    """A reply that is the label of one of this dialog's buttons ("Nee, verder" typed one
    step late)."""
    keys = ("more", "next", "skip", "confirm", "discard", "search_again")
    return fold(turn.text) in {fold(turn.t(f"nomination.{k}")) for k in keys}


def _picks(turn: Turn) -> list[Pick]:
    return [list(p) for p in turn.state.get("picks", [])]


def _names(picks: list[Pick]) -> str:
    return ", ".join(f"{p[1]} ({p[2] or '-'})" for p in picks)


async def _fuzzy(turn: Turn, text: str) -> list[Person]:
    """Typos allowed (the roster search found no one): the names that may fit, fetched,
    then ranked."""
    session = turn.services.session
    fits = fuzzy_names(text, await typo_candidates(session, typed_words(text)))
    return await people_by_id(session, [f.person_id for f in fits])


async def begin_nominating(
    turn: Turn, campaign_id: int | None = None, *, proposed: str | None = None
) -> None:
    """Start only in a round that takes this person's nominations (the use case's rules);
    `proposed` is a name typed with the wish ("ik wil marieke nomineren")."""
    try:
        campaign = await accepting_round(turn.services, campaign_id, turn.person.id)
    except Refused as refused:
        turn.reply(turn.refusal(refused))
        return
    await turn.begin(NAME, campaign=campaign.id, anonymous=campaign.anonymous, proposed=proposed)


async def nominate_command(turn: Turn, rest: str) -> None:
    """'nomineer' or 'nomineer marieke'."""
    await begin_nominating(turn, proposed=rest.strip() or None)


async def on_nominate_button(turn: Turn, payload: str) -> None:
    """`nom:<campaign>:start` on the campaign announcement."""
    bits = payload.split(":")
    campaign_id = ascii_int(bits[1]) if len(bits) == 3 else None
    if campaign_id is None or bits[2] != "start":
        turn.reply(turn.t("common.button_invalid"))
        return
    await begin_nominating(turn, campaign_id)


def register(registry: Registry) -> None:
    registry.dialog(Nominate(), buttons=P)
    registry.command("commands.nominate", nominate_command, help_key="nomination.help_nominate")
    registry.action(NOMINATE_BUTTON, on_nominate_button)
