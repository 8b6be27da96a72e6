"""Nomination rounds (campaigns) and nominating: every state change of the job, with its rules.

An OR member opens a round (chat, dashboard or CLI: `open_round`), everyone is told; people
nominate colleagues or themselves (`check_pick` while the dialog collects, `nominate` to
save); at closing (`close_round`, by hand or by the scheduler) the OR gets the ranked list and
each nominee an invitation they answer (`answer_invitation`).

Anonymous rounds never show who nominated whom: the nominator is kept only as a keyed hash
while the round is open (`nominator_of`) and erased at closing; lists and invitations leave
names out. The texts the round sends (announcement, ranking, invitation) are built here, so
every path sends the same ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.conversation import Services
from bot.fanout import per_language
from bot.i18n import t
from bot.messages import Choice, Outgoing, Purpose
from bot.text import ascii_int
from bot.usecases import Refused
from storage.deadline import accepts, closed_since
from storage.models import NominationCampaign, Person
from storage.nominations import DECLINED, INTERESTED, MORE_INFO, Nominations, Nominator, Nominee
from storage.people import Audience
from storage.reports import people_with_role

MAX_TITLE = 200
MAX_PER_PERSON = 50
MAX_REASON = 500
# The fields of a round a refusal can name (Refused.params["field"]): form fields, CLI options
# and dialog steps are told apart by it.
TITLE, CLOSES, MAX = "title", "closes", "max"
# Button prefixes of the messages sent here (registered by dialogs/nomination*.py).
NOMINATE_BUTTON, ANSWER_BUTTON = "nom", "nr"
ANSWERS = {"yes": INTERESTED, "more": MORE_INFO, "no": DECLINED}


@dataclass(frozen=True, slots=True)
class RoundDraft:
    """A round as typed: `closes_at` None when the time was not understood, `max_per_person`
    None for no maximum, or an int, or the digits as typed."""

    title: str
    closes_at: datetime | None
    anonymous: bool = False
    max_per_person: int | str | None = None


@dataclass(frozen=True, slots=True)
class Queued:
    """What a command queued in the outbox. A caller outside an engine event (dashboard)
    wakes the delivery worker after its commit when `wakes_delivery`; the engine and the
    scheduler do so themselves."""

    queued: int

    @property
    def wakes_delivery(self) -> bool:
        return self.queued > 0


@dataclass(frozen=True, slots=True)
class Opened(Queued):
    campaign: NominationCampaign


@dataclass(frozen=True, slots=True)
class Closed(Queued):
    closed: bool  # False: it was closed already


@dataclass(frozen=True, slots=True)
class Pick:
    """A pick the dialog may add: `is_self` (recorded as "wants to be a candidate") and
    `full` (with it, the maximum per person is reached)."""

    is_self: bool
    full: bool
    limit: int | None


# --- opening -----------------------------------------------------------------------------


def check_title(title: str) -> str:
    """1..MAX_TITLE characters, blanks around it dropped."""
    title = title.strip()
    if not title or len(title) > MAX_TITLE:
        raise Refused("campaign.title_length", max=MAX_TITLE, field=TITLE)
    return title


def check_closes(closes_at: datetime | None, now: datetime) -> datetime:
    """Understood (not None) and in the future: a round that closes at once takes nothing."""
    if closes_at is None or closes_at <= now:
        raise Refused("campaign.bad_closes", field=CLOSES)
    return closes_at


def check_max(most: int | str | None) -> int | None:
    """None: no maximum; otherwise 1..MAX_PER_PERSON (typed digits are read here)."""
    if most is None:
        return None
    value = ascii_int(most) if isinstance(most, str) else most
    if value is None or not 1 <= value <= MAX_PER_PERSON:
        raise Refused("campaign.bad_max", max=MAX_PER_PERSON, field=MAX)
    return value


def problems(draft: RoundDraft, now: datetime) -> list[Refused]:
    """Every rule `draft` breaks, in field order (a form marks them all at once)."""
    found = []
    for check in (
        lambda: check_title(draft.title),
        lambda: check_closes(draft.closes_at, now),
        lambda: check_max(draft.max_per_person),
    ):
        try:
            check()
        except Refused as refused:
            found.append(refused)
    return found


def announcement(services: Services, campaign: NominationCampaign, lang: str) -> Outgoing:
    lines = [t(lang, "campaign.announce", title=campaign.title)]
    lines.append(t(lang, "campaign.closes", when=services.format_time(campaign.closes_at, lang)))
    if campaign.max_per_person:
        lines.append(t(lang, "campaign.max", max=campaign.max_per_person))
    if campaign.anonymous:
        lines.append(t(lang, "campaign.anonymous_note"))
    start = Choice(t(lang, "campaign.nominate_button"), f"{NOMINATE_BUTTON}:{campaign.id}:start")
    return Outgoing(text="\n".join(lines), choices=(start,), purpose=Purpose.NOTICE)


async def announce(services: Services, campaign: NominationCampaign, actor_id: int | None) -> int:
    """Audit the opening and tell everyone; how many messages were queued."""
    everyone = await services.people.audience_ids(Audience())
    await services.audit("campaign.opened", actor_id=actor_id, subject=f"campaign:{campaign.id}")
    return await services.notify_many(
        everyone, per_language(lambda lang: announcement(services, campaign, lang)), prompt=True
    )


async def open_round(services: Services, draft: RoundDraft, *, actor_id: int | None) -> Opened:
    """Check, create, audit and announce a round; Refused names the first broken rule."""
    if found := problems(draft, services.now):
        raise found[0]
    campaign = await Nominations(services.session).create_campaign(
        title=check_title(draft.title),
        closes_at=check_closes(draft.closes_at, services.now),
        anonymous=draft.anonymous,
        max_per_person=check_max(draft.max_per_person),
        created_by=actor_id,
        now=services.now,
    )
    return Opened(queued=await announce(services, campaign, actor_id), campaign=campaign)


# --- closing -----------------------------------------------------------------------------


def ranked_text(lang: str, campaign: NominationCampaign, ranked: list[Nominee]) -> str:
    """The ranked list for the OR; nominators only in a named round."""
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


def answer_choices(lang: str, campaign_id: int) -> tuple[Choice, ...]:
    return tuple(
        Choice(t(lang, f"campaign.answer_{key}"), f"{ANSWER_BUTTON}:{campaign_id}:{key}")
        for key in ANSWERS
    )


def invitation(lang: str, campaign: NominationCampaign, nominee: Nominee) -> Outgoing:
    """A nominee's invitation: how many colleagues, their reasons (named only when the
    round is), and the question whether they are interested."""
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


async def close_round(services: Services, campaign_id: int, *, actor_id: int | None) -> Closed:
    """Close: ranked list to the OR, an invitation to each nominee; erase the nominators of
    an anonymous round. Closed(closed=False) when it was closed already; Refused when there
    is no such round."""
    nominations = Nominations(services.session)
    campaign = await nominations.get(campaign_id)
    if campaign is None:
        raise Refused("campaign.not_found")
    if not await nominations.mark_closed(campaign.id, services.now):
        return Closed(queued=0, closed=False)
    campaign.status = "closed"
    ranked = await nominations.ranked(campaign)
    members = await people_with_role(services.session, ["or_member", "admin"])
    queued = await services.notify_many(
        members,
        lambda p: Outgoing(text=ranked_text(p.language, campaign, ranked), purpose=Purpose.NOTICE),
    )
    by_id = {n.person_id: n for n in ranked}
    for nominee in ranked:
        await nominations.invite(campaign.id, nominee, services.now)

    def build(person: Person) -> Outgoing | None:
        nominee = by_id.get(person.id)
        return invitation(person.language, campaign, nominee) if nominee else None

    queued += await services.notify_many(list(by_id), build, prompt=True)
    if campaign.anonymous:
        await nominations.erase_nominators(campaign.id)
    await services.audit(
        "campaign.closed",
        actor_id=actor_id,
        subject=f"campaign:{campaign.id}",
        nominees=len(ranked),
    )
    return Closed(queued=queued, closed=True)


async def close_due_rounds(services: Services) -> int:
    """The scheduler's job: close every round past its closing time; how many were closed."""
    closed = 0
    for campaign_id in await Nominations(services.session).due_to_close(services.now):
        closed += (await close_round(services, campaign_id, actor_id=None)).closed
    return closed


async def answer_invitation(services: Services, campaign_id: int, person_id: int, key: str) -> str:
    """A nominee's answer ("yes", "more", "no"; they may change it); the stored response."""
    if key not in ANSWERS:
        raise Refused("common.button_invalid")
    answer = ANSWERS[key]
    if not await Nominations(services.session).respond(
        campaign_id, person_id, answer, services.now
    ):
        raise Refused("campaign.not_invited")
    await services.audit(
        "campaign.answered", actor_id=person_id, subject=f"campaign:{campaign_id}", to=answer
    )
    return answer


# --- nominating --------------------------------------------------------------------------


def nominator_of(services: Services, campaign: NominationCampaign, person_id: int) -> Nominator:
    """Who nominates, as stored: the person in a named round; in an anonymous round only a
    keyed hash, enough to refuse a second nomination of the same colleague and to count
    towards the maximum, and nothing that names the person to whoever reads the database."""
    if not campaign.anonymous:
        return Nominator(person_id=person_id)
    return Nominator(key=services.pseudonym(f"nominator\x00{campaign.id}\x00{person_id}"))


def check_max_reached(campaign: NominationCampaign, count: int) -> None:
    """Refused when `count` nominations by one person would go over the round's maximum."""
    limit = campaign.max_per_person
    if limit is not None and count > limit:
        raise Refused("nomination.limit_reached", max=limit)


async def _standing(
    services: Services, campaign_id: int | None, person_id: int, adding: int
) -> tuple[NominationCampaign, Nominator, set[int]]:
    """(the round, the nominator as stored, whom they nominated before), when the round
    takes `adding` more nominations from this person."""
    nominations = Nominations(services.session)
    if campaign_id is None:
        campaign = await nominations.current(services.now)
    else:
        campaign = await nominations.get(campaign_id)
    if campaign is None:
        raise Refused("nomination.no_campaign")
    if not accepts(campaign.status, campaign.closes_at, services.now):
        since = closed_since(campaign.closes_at, campaign.closed_at)
        if since is None:
            raise Refused("nomination.campaign_closed")
        raise Refused("nomination.campaign_closed_since", when=since)
    nominator = nominator_of(services, campaign, person_id)
    earlier = await nominations.nominated_by(campaign.id, nominator)
    check_max_reached(campaign, len(earlier) + adding)
    return campaign, nominator, earlier


async def accepting_round(
    services: Services, campaign_id: int | None, person_id: int
) -> NominationCampaign:
    """The round `person_id` may nominate in now: `campaign_id`, or the current one. Refused
    when there is none, when it is closed or past its closing time (`when` says since
    when), or when this person has used up its maximum."""
    return (await _standing(services, campaign_id, person_id, adding=1))[0]


async def check_pick(
    services: Services,
    campaign_id: int,
    person_id: int,
    nominee: tuple[int, str],
    picked: Sequence[int] = (),
) -> Pick:
    """May `person_id` add `nominee` (id, name) to the ones `picked` so far? Refused for a
    closed round, a maximum already reached and a colleague nominated before (now or in an
    earlier conversation)."""
    adding = len(picked) + 1
    campaign, _, earlier = await _standing(services, campaign_id, person_id, adding)
    nominee_id, name = nominee
    if nominee_id in earlier or nominee_id in picked:
        raise Refused("nomination.duplicate", name=name)
    limit = campaign.max_per_person
    full = limit is not None and len(earlier) + adding >= limit
    return Pick(is_self=nominee_id == person_id, full=full, limit=limit)


def check_reason(reason: str | None) -> str | None:
    """None (skipped) or 1..MAX_REASON characters."""
    if reason is None:
        return None
    if not reason.strip() or len(reason) > MAX_REASON:
        raise Refused("nomination.reason_length", max=MAX_REASON)
    return reason


async def nominate(
    services: Services,
    campaign_id: int,
    person_id: int,
    nominee_ids: Sequence[int],
    reason: str | None,
    *,
    reasons: Mapping[int, str | None] | None = None,
) -> tuple[NominationCampaign, list[int]]:
    """Save `person_id`'s nominations; (the round, the nominees saved). `reasons` gives a
    nominee their own reason (the chat asks one per colleague), else `reason` counts for
    each. Colleagues this person nominated before are left out; the whole call is refused
    when the round no longer takes nominations or when it would go over the maximum per
    person. Nothing is audited: in an anonymous round no row may link the nominator to the
    nominee."""
    reason = check_reason(reason)
    own = {n: check_reason(r) for n, r in (reasons or {}).items()}
    campaign, nominator, earlier = await _standing(services, campaign_id, person_id, adding=0)
    new = [n for n in dict.fromkeys(nominee_ids) if n not in earlier]
    check_max_reached(campaign, len(earlier) + len(new))
    nominations = Nominations(services.session)
    saved = [
        n
        for n in new
        if await nominations.nominate(
            campaign.id, nominator, n, own.get(n, reason), services.now, is_self=n == person_id
        )
    ]
    return campaign, saved
