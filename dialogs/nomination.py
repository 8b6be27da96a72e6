"""Nominating colleagues for the OR during a campaign: who? (matched against the roster) →
another one? → an optional reason → confirmation. 'terug'/'back' goes one step back.

Names are matched accent- and case-insensitively on parts of the name; several matches give
a list with departments. Nominating yourself is recorded as "wants to be a candidate".
"""

from __future__ import annotations

from typing import Any, ClassVar

from bot.conversation import Turn
from bot.messages import Choice
from bot.registry import Registry
from bot.text import ascii_int
from bot.usecases import Refused
from bot.usecases.nominations import (
    MAX_REASON,
    NOMINATE_BUTTON,
    accepting_round,
    check_pick,
    check_reason,
    nominate,
)
from dialogs import steps
from storage.nominations import search_roster

NAME = "nominate"
P = "nm"
MAX_MATCHES = 10
WHO, CHOOSE, ANOTHER, REASON, CONFIRM = "who", "choose", "another", "reason", "confirm"


class Nominate:
    name: ClassVar[str] = NAME

    async def start(self, turn: Turn) -> None:
        turn.set(step=WHO, trail=[], picks=[])
        turn.sealed = bool(turn.state.get("anonymous"))
        await self.ask(turn)

    async def step(self, turn: Turn) -> None:
        # In an anonymous round every reply may name whom this person nominates.
        turn.sealed = bool(turn.state.get("anonymous"))
        if steps.wants_back(turn, P):
            if turn.state.get("step") == ANOTHER:
                turn.set(picks=list(turn.state.get("picks", []))[:-1])
            if steps.back(turn) is None:
                turn.reply(turn.t("steps.first"))
            await self.ask(turn)
            return
        if turn.choice == f"{P}:cancel":
            turn.end()
            turn.reply(turn.t("common.cancelled"))
            return
        await getattr(self, f"_{turn.state.get('step', WHO)}")(turn)

    async def ask(self, turn: Turn) -> None:
        step = turn.state.get("step", WHO)
        back = steps.back_choice(turn, P)
        if step == WHO:
            choices = [back] if turn.state.get("trail") else []
            turn.reply(turn.t("nomination.ask_who"), choices)
        elif step == CHOOSE:
            choices = [
                Choice(f"{name} ({dept or '-'})", f"{P}:pick:{pid}")
                for pid, name, dept in turn.state.get("candidates", [])
            ]
            choices.append(Choice(turn.t("nomination.search_again"), f"{P}:again"))
            turn.ask(turn.t("nomination.choose"), [*choices, back])
        elif step == ANOTHER:
            turn.ask(
                turn.t("nomination.picked", names=self._names(turn)),
                [
                    Choice(turn.t("nomination.more"), f"{P}:more"),
                    Choice(turn.t("nomination.next"), f"{P}:next"),
                    back,
                ],
            )
        elif step == REASON:
            turn.ask(
                turn.t("nomination.ask_reason", max=MAX_REASON),
                [Choice(turn.t("nomination.skip"), f"{P}:skip"), back],
            )
        else:
            turn.ask(
                self._summary(turn),
                [
                    Choice(turn.t("nomination.confirm"), f"{P}:confirm"),
                    Choice(turn.t("nomination.discard"), f"{P}:discard"),
                    back,
                ],
            )

    def _names(self, turn: Turn) -> str:
        return ", ".join(f"{name} ({dept or '-'})" for _pid, name, dept in turn.state["picks"])

    async def _who(self, turn: Turn) -> None:
        if not turn.text:
            await self.ask(turn)
            return
        found = await search_roster(turn.services.session, turn.text, MAX_MATCHES)
        if not found:
            turn.reply(
                turn.t("nomination.no_match", text=turn.text),
                [Choice(turn.t("nomination.cancel"), f"{P}:cancel")],
            )
        elif len(found) > MAX_MATCHES:
            turn.reply(turn.t("nomination.too_many", text=turn.text))
        elif len(found) == 1:
            await self._add(turn, [found[0].id, found[0].name, found[0].department])
        else:
            candidates = [[p.id, p.name, p.department] for p in found]
            steps.advance(turn, CHOOSE, candidates=candidates)
            await self.ask(turn)

    async def _choose(self, turn: Turn) -> None:
        choice = turn.choice or ""
        if choice == f"{P}:again":
            steps.back(turn)
            await self.ask(turn)
            return
        picked = choice.removeprefix(f"{P}:pick:")
        for candidate in turn.state.get("candidates", []):
            if str(candidate[0]) == picked:
                await self._add(turn, candidate)
                return
        await self.ask(turn)

    async def _add(self, turn: Turn, pick: list[Any]) -> None:
        """The use case checks the pick (round still open, not nominated before, maximum
        not reached), then it joins the list."""
        picks = list(turn.state.get("picks", []))
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
                if turn.state.get("step") == CHOOSE:
                    steps.back(turn)
                await self.ask(turn)
            elif refused.key == "nomination.limit_reached" and picks:
                steps.advance(turn, REASON)
                await self.ask(turn)
            else:
                turn.end()
            return
        if checked.is_self:
            turn.reply(turn.t("nomination.self"))
        picks.append(pick)
        if checked.full:
            steps.advance(turn, REASON, picks=picks)
            turn.reply(turn.t("nomination.limit_reached", max=checked.limit))
        else:
            steps.advance(turn, ANOTHER, picks=picks)
        await self.ask(turn)

    async def _another(self, turn: Turn) -> None:
        if turn.choice == f"{P}:more":
            steps.advance(turn, WHO)
        elif turn.choice == f"{P}:next":
            steps.advance(turn, REASON)
        await self.ask(turn)

    async def _reason(self, turn: Turn) -> None:
        try:
            reason = None if turn.choice == f"{P}:skip" else check_reason(turn.text)
            steps.advance(turn, CONFIRM, reason=reason)
        except Refused as refused:
            turn.reply(turn.refusal(refused))
        await self.ask(turn)

    def _summary(self, turn: Turn) -> str:
        lines = [turn.t("nomination.summary", names=self._names(turn))]
        if turn.state.get("reason"):
            lines.append(turn.t("nomination.summary_reason", reason=turn.state["reason"]))
        if turn.state.get("anonymous"):
            lines.append(turn.t("nomination.is_anonymous"))
        return "\n".join(lines)

    async def _confirm(self, turn: Turn) -> None:
        if turn.choice == f"{P}:discard":
            turn.end()
            turn.reply(turn.t("common.cancelled"))
            return
        if turn.choice != f"{P}:confirm":
            await self.ask(turn)
            return
        campaign_id = int(turn.state["campaign"])
        picks, reason = turn.state.get("picks", []), turn.state.get("reason")
        turn.end()
        try:
            campaign, saved = await nominate(
                turn.services,
                campaign_id,
                turn.person.id,
                [p[0] for p in picks],
                reason,
            )
        except Refused as refused:
            turn.reply(turn.refusal(refused))
            return
        names = ", ".join(p[1] for p in picks if p[0] in saved) or "-"
        turn.reply(turn.t("nomination.thanks", names=names, title=campaign.title))


async def begin_nominating(turn: Turn, campaign_id: int | None = None) -> None:
    """Start only in a round that takes this person's nominations (the use case's rules)."""
    try:
        campaign = await accepting_round(turn.services, campaign_id, turn.person.id)
    except Refused as refused:
        turn.reply(turn.refusal(refused))
        return
    await turn.begin(NAME, campaign=campaign.id, anonymous=campaign.anonymous)


async def nominate_command(turn: Turn, _rest: str) -> None:
    await begin_nominating(turn)


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
