"""Nomination campaigns: an OR member opens one (chat or CLI); at closing the OR gets the
ranked list and each nominee is asked: interested / tell me more / no thanks.

Anonymous campaigns never show who nominated whom: not in the OR's list, not to the nominee
(reasons come without names), and at closing the nominators are erased from the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from bot.choices import fold
from bot.conversation import Turn
from bot.messages import Choice
from bot.registry import Registry
from bot.text import ascii_int
from bot.usecases import Refused
from bot.usecases.nominations import (
    ANSWER_BUTTON,
    ANSWERS,
    CLOSES,
    MAX,
    MAX_TITLE,
    TITLE,
    RoundDraft,
    answer_choices,
    answer_invitation,
    check_closes,
    check_max,
    check_title,
    close_due_rounds,
    open_round,
    ranked_text,
)
from dialogs import steps
from dialogs.when import parse_when
from storage.nominations import MORE_INFO, Nominations

NAME = "nomination_campaign"
P = "nc"
ANONYMITY, LIMIT, CONFIRM = "anonymity", "limit", "confirm"
# The step that asks for each field a refusal can name.
STEP_OF = {TITLE: TITLE, CLOSES: CLOSES, MAX: LIMIT}


async def on_nominee_answer(turn: Turn, payload: str) -> None:
    """`nr:<campaign>:yes|more|no`: a nominee's answer (may be changed later)."""
    bits = payload.split(":")
    campaign_id = ascii_int(bits[1]) if len(bits) == 3 else None
    if campaign_id is None or bits[2] not in ANSWERS:
        turn.reply(turn.t("common.button_invalid"))
        return
    try:
        answer = await answer_invitation(turn.services, campaign_id, turn.person.id, bits[2])
    except Refused as refused:
        turn.reply(turn.refusal(refused))
        return
    if answer == MORE_INFO:
        turn.reply(turn.t("campaign.more_info"), answer_choices(turn.lang, campaign_id))
    else:
        turn.reply(turn.t(f"campaign.answered_{bits[2]}"))


class CampaignCreate:
    """title → closing time → anonymous? → maximum per person → preview."""

    name: ClassVar[str] = NAME

    async def start(self, turn: Turn) -> None:
        turn.set(step=TITLE, trail=[])
        await self.ask(turn)

    async def step(self, turn: Turn) -> None:
        if not await steps.go_back(turn, P, self.ask):
            await getattr(self, f"_{turn.state.get('step', TITLE)}")(turn)

    async def ask(self, turn: Turn) -> None:
        step = turn.state.get("step", TITLE)
        back = steps.back_choice(turn, P)
        if step == TITLE:
            turn.reply(turn.t("campaign.ask_title", max=MAX_TITLE))
        elif step == CLOSES:
            turn.reply(turn.t("campaign.ask_closes"), [back])
        elif step == ANONYMITY:
            turn.ask(
                turn.t("campaign.ask_anonymous"),
                [
                    Choice(turn.t("campaign.named"), f"{P}:named"),
                    Choice(turn.t("campaign.anonymous"), f"{P}:anon"),
                    back,
                ],
            )
        elif step == LIMIT:
            # reply, not ask: a typed number is the maximum, not the number of a button.
            no_max = Choice(turn.t("campaign.no_max"), f"{P}:nomax")
            turn.reply(turn.t("campaign.ask_max"), [no_max, back])
        else:
            s = turn.state
            when = turn.services.format_time(datetime.fromisoformat(s["closes"]), turn.lang)
            lines = [turn.t("campaign.preview"), "", s["title"]]
            lines.append(turn.t("campaign.closes", when=when))
            lines.append(turn.t("campaign.anonymous" if s.get("anonymous") else "campaign.named"))
            if s.get("max"):
                lines.append(turn.t("campaign.max", max=s["max"]))
            turn.ask(
                "\n".join(lines),
                [
                    Choice(turn.t("campaign.open_now"), f"{P}:open"),
                    Choice(turn.t("campaign.discard"), f"{P}:discard"),
                    back,
                ],
            )

    async def _title(self, turn: Turn) -> None:
        try:
            steps.advance(turn, CLOSES, title=check_title(turn.text))
        except Refused as refused:
            turn.reply(turn.refusal(refused))
        await self.ask(turn)

    async def _closes(self, turn: Turn) -> None:
        services = turn.services
        when = parse_when(turn.text, now=services.now, timezone=services.settings.timezone)
        try:
            steps.advance(turn, ANONYMITY, closes=check_closes(when, services.now).isoformat())
        except Refused as refused:
            turn.reply(turn.refusal(refused))
        await self.ask(turn)

    async def _anonymity(self, turn: Turn) -> None:
        if turn.choice in (f"{P}:named", f"{P}:anon"):
            steps.advance(turn, LIMIT, anonymous=turn.choice == f"{P}:anon")
        await self.ask(turn)

    async def _limit(self, turn: Turn) -> None:
        no_max = turn.choice == f"{P}:nomax" or fold(turn.text) == fold(turn.t("campaign.no_max"))
        try:
            steps.advance(turn, CONFIRM, max=check_max(None if no_max else turn.text))
        except Refused as refused:
            turn.reply(turn.refusal(refused))
        await self.ask(turn)

    async def _confirm(self, turn: Turn) -> None:
        if turn.choice == f"{P}:discard":
            turn.end()
            turn.reply(turn.t("common.cancelled"))
            return
        if turn.choice != f"{P}:open":
            await self.ask(turn)
            return
        s, services = turn.state, turn.services
        draft = RoundDraft(
            title=s["title"],
            closes_at=datetime.fromisoformat(s["closes"]),
            anonymous=bool(s.get("anonymous")),
            max_per_person=s.get("max"),
        )
        try:
            opened = await open_round(services, draft, actor_id=turn.person.id)
        except Refused as refused:
            # The closing time passed while the draft waited: ask for that field again.
            turn.reply(turn.refusal(refused))
            steps.advance(turn, STEP_OF[str(refused.params["field"])])
            await self.ask(turn)
            return
        turn.end()
        turn.reply(turn.t("campaign.opened", id=opened.campaign.id, count=opened.queued))


async def new_campaign(turn: Turn, _rest: str) -> None:
    await turn.begin(NAME)


async def campaign_results(turn: Turn, rest: str) -> None:
    """The ranked list so far (or final) of campaign N, or of the current campaign."""
    nominations = Nominations(turn.services.session)
    number = ascii_int(rest.lstrip("#").strip())
    campaign = (
        await nominations.get(number)
        if number is not None
        else await nominations.current(turn.services.now)
    )
    if campaign is None:
        turn.reply(turn.t("campaign.not_found"))
        return
    turn.reply(ranked_text(turn.lang, campaign, await nominations.ranked(campaign)))


def register(registry: Registry) -> None:
    registry.periodic("campaigns_close", close_due_rounds)
    registry.action(ANSWER_BUTTON, on_nominee_answer)
    registry.dialog(CampaignCreate(), buttons=P)
    registry.command(
        "commands.new_campaign", new_campaign, or_only=True, help_key="campaign.help_new"
    )
    registry.command(
        "commands.campaign_results",
        campaign_results,
        or_only=True,
        help_key="campaign.help_results",
    )
