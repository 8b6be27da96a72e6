"""Nomination campaigns: an OR member opens one (chat or CLI); at closing the OR gets the
ranked list and each nominee is asked: interested / tell me more / no thanks.

Anonymous campaigns never show who nominated whom: not in the OR's list, not to the nominee
(reasons come without names), and at closing the nominators are erased from the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from bot.choices import fold
from bot.conversation import Services, Turn
from bot.i18n import t
from bot.messages import Choice, Outgoing, Purpose
from bot.registry import Registry
from bot.text import ascii_int
from dialogs import steps
from dialogs.when import parse_when
from storage.models import NominationCampaign, Person
from storage.nominations import DECLINED, INTERESTED, MORE_INFO, Nominations, Nominee
from storage.people import Audience
from storage.reports import people_with_role

NAME = "nomination_campaign"
P = "nc"
MAX_TITLE = 200
TITLE, CLOSES, ANONYMITY, LIMIT, CONFIRM = "title", "closes", "anonymity", "limit", "confirm"
ANSWERS = {"yes": INTERESTED, "more": MORE_INFO, "no": DECLINED}


def announcement(services: Services, campaign: NominationCampaign, lang: str) -> Outgoing:
    lines = [t(lang, "campaign.announce", title=campaign.title)]
    lines.append(t(lang, "campaign.closes", when=services.format_time(campaign.closes_at, lang)))
    if campaign.max_per_person:
        lines.append(t(lang, "campaign.max", max=campaign.max_per_person))
    if campaign.anonymous:
        lines.append(t(lang, "campaign.anonymous_note"))
    return Outgoing(
        text="\n".join(lines),
        choices=(Choice(t(lang, "campaign.nominate_button"), f"nom:{campaign.id}:start"),),
        purpose=Purpose.NOTICE,
    )


async def announce(services: Services, campaign: NominationCampaign, actor_id: int | None) -> int:
    everyone = await services.people.audience_ids(Audience())
    await services.audit("campaign.opened", actor_id=actor_id, subject=f"campaign:{campaign.id}")
    return await services.notify_many(
        everyone, lambda p: announcement(services, campaign, p.language), prompt=True
    )


def ranked_text(lang: str, campaign: NominationCampaign, ranked: list[Nominee]) -> str:
    lines = [t(lang, "campaign.results_header", id=campaign.id, title=campaign.title), ""]
    if not ranked:
        lines.append(t(lang, "campaign.results_empty"))
    for place, n in enumerate(ranked, start=1):
        line = t(lang, "campaign.results_line", place=place, name=n.name, count=n.count)
        line += f" – {n.department or '-'}"
        if n.self_nominated:
            line += " · " + t(lang, "campaign.wants_to_be_candidate")
        if n.nominators and not campaign.anonymous:
            line += "\n   " + t(lang, "campaign.nominated_by", names=", ".join(n.nominators))
        lines.append(line)
    return "\n".join(lines)


def invitation(lang: str, campaign: NominationCampaign, nominee: Nominee) -> Outgoing:
    others = nominee.count - (1 if nominee.self_nominated else 0)
    if others:
        lines = [t(lang, "campaign.invite", title=campaign.title, count=others)]
        if nominee.self_nominated:
            lines.append(t(lang, "campaign.invite_self"))
    else:
        lines = [t(lang, "campaign.invite_only_self", title=campaign.title)]
    for by, reason in nominee.reasons:
        lines.append(f"• “{reason}”" + (f" – {by}" if by and not campaign.anonymous else ""))
    lines.append("")
    lines.append(t(lang, "campaign.invite_question"))
    return Outgoing(text="\n".join(lines), choices=answer_choices(lang, campaign.id))


def answer_choices(lang: str, campaign_id: int) -> tuple[Choice, ...]:
    return tuple(
        Choice(t(lang, f"campaign.answer_{key}"), f"nr:{campaign_id}:{key}") for key in ANSWERS
    )


async def close_campaign(
    services: Services, campaign: NominationCampaign, *, actor_id: int | None
) -> bool:
    """Close: ranked list to the OR, an invitation to each nominee; erase anonymous links."""
    nominations = Nominations(services.session)
    if not await nominations.mark_closed(campaign.id, services.now):
        return False
    campaign.status = "closed"
    ranked = await nominations.ranked(campaign)
    members = await people_with_role(services.session, ["or_member", "admin"])
    await services.notify_many(
        members,
        lambda p: Outgoing(text=ranked_text(p.language, campaign, ranked), purpose=Purpose.NOTICE),
    )
    by_id = {n.person_id: n for n in ranked}
    for nominee in ranked:
        await nominations.invite(campaign.id, nominee, services.now)

    def build(person: Person) -> Outgoing | None:
        nominee = by_id.get(person.id)
        return invitation(person.language, campaign, nominee) if nominee else None

    await services.notify_many(list(by_id), build, prompt=True)
    if campaign.anonymous:
        await nominations.erase_nominators(campaign.id)
    await services.audit(
        "campaign.closed",
        actor_id=actor_id,
        subject=f"campaign:{campaign.id}",
        nominees=len(ranked),
    )
    return True


async def close_due_campaigns(services: Services) -> int:
    nominations = Nominations(services.session)
    closed = 0
    for campaign_id in await nominations.due_to_close(services.now):
        campaign = await nominations.get(campaign_id)
        if campaign is not None:
            closed += await close_campaign(services, campaign, actor_id=None)
    return closed


async def on_nominee_answer(turn: Turn, payload: str) -> None:
    """`nr:<campaign>:yes|more|no`: a nominee's answer (may be changed later)."""
    bits = payload.split(":")
    campaign_id = ascii_int(bits[1]) if len(bits) == 3 else None
    if campaign_id is None or bits[2] not in ANSWERS:
        turn.reply(turn.t("common.button_invalid"))
        return
    answer = ANSWERS[bits[2]]
    nominations = Nominations(turn.services.session)
    if not await nominations.respond(campaign_id, turn.person.id, answer, turn.services.now):
        turn.reply(turn.t("campaign.not_invited"))
        return
    await turn.services.audit(
        "campaign.answered", actor_id=turn.person.id, subject=f"campaign:{campaign_id}", to=answer
    )
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
        if not turn.text or len(turn.text) > MAX_TITLE:
            turn.reply(turn.t("campaign.title_length", max=MAX_TITLE))
        else:
            steps.advance(turn, CLOSES, title=turn.text)
        await self.ask(turn)

    async def _closes(self, turn: Turn) -> None:
        services = turn.services
        when = parse_when(turn.text, now=services.now, timezone=services.settings.timezone)
        if when is None or when <= services.now:
            turn.reply(turn.t("campaign.bad_closes"))
        else:
            steps.advance(turn, ANONYMITY, closes=when.isoformat())
        await self.ask(turn)

    async def _anonymity(self, turn: Turn) -> None:
        if turn.choice in (f"{P}:named", f"{P}:anon"):
            steps.advance(turn, LIMIT, anonymous=turn.choice == f"{P}:anon")
        await self.ask(turn)

    async def _limit(self, turn: Turn) -> None:
        if turn.choice == f"{P}:nomax" or fold(turn.text) == fold(turn.t("campaign.no_max")):
            steps.advance(turn, CONFIRM, max=None)
        elif (most := ascii_int(turn.text, low=1, high=50)) is not None:
            steps.advance(turn, CONFIRM, max=most)
        else:
            turn.reply(turn.t("campaign.bad_max"))
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
        campaign = await Nominations(services.session).create_campaign(
            title=s["title"],
            closes_at=datetime.fromisoformat(s["closes"]),
            anonymous=bool(s.get("anonymous")),
            max_per_person=s.get("max"),
            created_by=turn.person.id,
            now=services.now,
        )
        turn.end()
        sent = await announce(services, campaign, turn.person.id)
        turn.reply(turn.t("campaign.opened", id=campaign.id, count=sent))


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
    registry.periodic("campaigns_close", close_due_campaigns)
    registry.action("nr", on_nominee_answer)
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
