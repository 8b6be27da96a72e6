"""Nomination campaigns: an OR member opens one (chat or CLI); at closing the OR gets the
ranked list and each nominee is asked: interested / tell me more / no thanks.

Anonymous campaigns never show who nominated whom: not in the OR's list, not to the nominee
(reasons come without names), and at closing the nominators are erased from the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from bot.choices import fold
from bot.conversation import Turn
from bot.dialog_steps import Prompt, Refusal, Step, StepDialog
from bot.dialog_times import echo, read_time
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
from storage.nominations import MORE_INFO, Nominations

NAME = "nomination_campaign"
P = "nc"
ANONYMITY, LIMIT, CONFIRM = "anonymity", "limit", "confirm"
# The step that asks for each field a refusal can name.
STEP_OF = {TITLE: TITLE, CLOSES: CLOSES, MAX: LIMIT}
# The maximum step's value for 'Geen maximum'.
NO_MAX = object()


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


class CampaignCreate(StepDialog):
    """title → closing time → anonymous? → maximum per person → preview.

    The steps are declared on the dialog base (bot/dialog_steps.py): 'terug', 'stop',
    'help'/'menu' and a re-ask that says why work at every step; the closing time is read by
    the rule-based time reader (bot/dialog_times.py) and echoed back in words."""

    name: ClassVar[str] = NAME
    prefix: ClassVar[str | None] = P
    title_key: ClassVar[str] = "dialog.title.nomination_campaign"

    def steps(self) -> Sequence[Step]:
        return (
            Step(TITLE, self._ask_title, self._parse_title, self._title, "campaign.help_title"),
            Step(
                CLOSES, self._ask_closes, self._parse_closes, self._closes, "campaign.help_closes"
            ),
            Step(
                ANONYMITY,
                self._ask_anonymity,
                self.pick,
                self._anonymity,
                "campaign.help_anonymity",
            ),
            Step(LIMIT, self._ask_max, self._parse_max, self._max, "campaign.help_max"),
            Step(CONFIRM, self._preview, self.pick, self._confirm, "campaign.help_confirm"),
        )

    async def _ask_title(self, turn: Turn) -> Prompt:
        return Prompt(turn.t("campaign.ask_title", max=MAX_TITLE))

    async def _parse_title(self, turn: Turn) -> Any:
        try:
            return check_title(turn.text)
        except Refused as refused:
            return Refusal.of(refused)

    async def _title(self, turn: Turn, title: str) -> str:
        turn.set(title=title)
        return CLOSES

    async def _ask_closes(self, turn: Turn) -> Prompt:
        return Prompt(turn.t("campaign.ask_closes"), [self.back_choice(turn)])

    async def _parse_closes(self, turn: Turn) -> Any:
        when = read_time(turn, P)
        if isinstance(when, Refusal):
            return when
        try:
            return check_closes(when, turn.services.now)
        except Refused as refused:
            return Refusal.of(refused)

    async def _closes(self, turn: Turn, when: datetime) -> str:
        turn.set(closes=when.isoformat())
        echo(turn, when)
        return ANONYMITY

    async def _ask_anonymity(self, turn: Turn) -> Prompt:
        return Prompt(
            turn.t("campaign.ask_anonymous"),
            [
                Choice(turn.t("campaign.named"), f"{P}:named"),
                Choice(turn.t("campaign.anonymous"), f"{P}:anon"),
                self.back_choice(turn),
            ],
        )

    async def _anonymity(self, turn: Turn, choice: str) -> str:
        turn.set(anonymous=choice == f"{P}:anon")
        return LIMIT

    async def _ask_max(self, turn: Turn) -> Prompt:
        # Not typed: a typed number is the maximum, not the number of a button.
        no_max = Choice(turn.t("campaign.no_max"), f"{P}:nomax")
        return Prompt(turn.t("campaign.ask_max"), [no_max, self.back_choice(turn)], typed=False)

    async def _parse_max(self, turn: Turn) -> Any:
        no_max = turn.choice == f"{P}:nomax" or fold(turn.text) == fold(turn.t("campaign.no_max"))
        try:
            return NO_MAX if no_max else check_max(turn.text)
        except Refused as refused:
            return Refusal.of(refused)

    async def _max(self, turn: Turn, most: object) -> str:
        turn.set(max=None if most is NO_MAX else most)
        return CONFIRM

    async def _preview(self, turn: Turn) -> Prompt:
        s = turn.state
        when = turn.services.format_time(datetime.fromisoformat(s["closes"]), turn.lang)
        lines = [turn.t("campaign.preview"), "", s["title"]]
        lines.append(turn.t("campaign.closes", when=when))
        lines.append(turn.t("campaign.anonymous" if s.get("anonymous") else "campaign.named"))
        if s.get("max"):
            lines.append(turn.t("campaign.max", max=s["max"]))
        return Prompt(
            "\n".join(lines),
            [
                Choice(turn.t("campaign.open_now"), f"{P}:open"),
                Choice(turn.t("campaign.discard"), f"{P}:discard"),
                self.back_choice(turn),
            ],
        )

    async def _confirm(self, turn: Turn, choice: str) -> str | None:
        if choice == f"{P}:discard":
            turn.end()
            turn.reply(turn.t("common.cancelled"))
            return None
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
            return STEP_OF[str(refused.params["field"])]
        turn.end()
        turn.reply(turn.t("campaign.opened", id=opened.campaign.id, count=opened.queued))
        return None


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
