"""Nomination campaigns, nominations and the nominees' answers.

The nominator is stored while a campaign is open, to refuse a second nomination of the same
colleague and to count against the maximum per person: in a named round as the person, in an
anonymous round only as a keyed hash (bot/usecases/nominations.py, nominator_of), so that whoever
reads the database cannot tell who nominated whom. At closing both are erased.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Nomination, NominationCampaign, NomineeResponse, Person, random_id
from storage.roster_search import fold_name
from storage.sql import insert_ignore

OPEN, CLOSED = "open", "closed"
INTERESTED, MORE_INFO, DECLINED = "interested", "more_info", "declined"
RESPONSES = (INTERESTED, MORE_INFO, DECLINED)


@dataclass(slots=True)
class Nominee:
    """One line of the ranked list."""

    person_id: int
    name: str
    department: str | None
    count: int = 0
    self_nominated: bool = False
    reasons: list[tuple[str | None, str]] = field(default_factory=list)  # (nominator, reason)
    nominators: list[str] = field(default_factory=list)
    response: str | None = None


@dataclass(frozen=True, slots=True)
class Nominator:
    """Who made a nomination: a person (named rounds) or a keyed hash (anonymous rounds)."""

    person_id: int | None = None
    key: str | None = None

    @property
    def columns(self) -> list[str]:
        return ["nominator_id"] if self.person_id is not None else ["nominator_key"]

    def matches(self) -> ColumnElement[bool]:
        if self.person_id is not None:
            return Nomination.nominator_id == self.person_id
        return Nomination.nominator_key == self.key


class Nominations:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create_campaign(
        self,
        *,
        title: str,
        closes_at: datetime,
        anonymous: bool,
        max_per_person: int | None,
        created_by: int | None,
        now: datetime,
    ) -> NominationCampaign:
        campaign = NominationCampaign(
            title=title,
            closes_at=closes_at,
            anonymous=anonymous,
            max_per_person=max_per_person,
            created_by=created_by,
            status=OPEN,
            opens_at=now,
        )
        self.session.add(campaign)
        await self.session.flush()
        return campaign

    async def get(self, campaign_id: int) -> NominationCampaign | None:
        return await self.session.get(NominationCampaign, campaign_id, populate_existing=True)

    async def current(self, now: datetime) -> NominationCampaign | None:
        """The open campaign that closes first (there is normally one)."""
        stmt = (
            select(NominationCampaign)
            .where(NominationCampaign.status == OPEN, NominationCampaign.closes_at > now)
            .order_by(NominationCampaign.closes_at, NominationCampaign.id)
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def recent(self, limit: int = 50) -> list[NominationCampaign]:
        stmt = select(NominationCampaign).order_by(NominationCampaign.id.desc()).limit(limit)
        return list((await self.session.execute(stmt)).scalars())

    async def due_to_close(self, now: datetime) -> list[int]:
        stmt = select(NominationCampaign.id).where(
            NominationCampaign.status == OPEN, NominationCampaign.closes_at <= now
        )
        return list((await self.session.execute(stmt.order_by(NominationCampaign.id))).scalars())

    async def mark_closed(self, campaign_id: int, now: datetime) -> bool:
        stmt = (
            update(NominationCampaign)
            .where(NominationCampaign.id == campaign_id, NominationCampaign.status == OPEN)
            .values(status=CLOSED, closed_at=now)
            .returning(NominationCampaign.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def nominate(
        self,
        campaign_id: int,
        nominator: Nominator,
        nominee_id: int,
        reason: str | None,
        now: datetime,
        *,
        is_self: bool = False,
    ) -> bool:
        """Record a nomination; False when this nominator already named this colleague, or
        when the round is closed or past its closing time (`now`, the event's time), even
        before the scheduler has closed it."""
        still_open = select(NominationCampaign.id).where(
            NominationCampaign.id == campaign_id,
            NominationCampaign.status == OPEN,
            NominationCampaign.closes_at > now,
        )
        if (await self.session.execute(still_open)).first() is None:
            return False
        added = await insert_ignore(
            self.session,
            Nomination.__table__,  # type: ignore[arg-type]
            {
                "id": random_id(),
                "campaign_id": campaign_id,
                "nominator_id": nominator.person_id,
                "nominator_key": nominator.key,
                "nominee_id": nominee_id,
                "is_self": is_self,
                "reason": reason,
                "created_on": now.date(),
            },
            ["campaign_id", *nominator.columns, "nominee_id"],
        )
        return added

    async def nominated_by(self, campaign_id: int, nominator: Nominator) -> set[int]:
        stmt = select(Nomination.nominee_id).where(
            Nomination.campaign_id == campaign_id, nominator.matches()
        )
        return set((await self.session.execute(stmt)).scalars())

    async def erase_nominators(self, campaign_id: int) -> None:
        await self.session.execute(
            update(Nomination)
            .where(Nomination.campaign_id == campaign_id)
            .values(nominator_id=None, nominator_key=None)
            .execution_options(synchronize_session=False)
        )

    async def ranked(self, campaign: NominationCampaign) -> list[Nominee]:
        """Nominees by number of nominations; nominator names only for named campaigns."""
        nominee = Person.__table__.alias("nominee")
        nominator = Person.__table__.alias("nominator")
        stmt = (
            select(
                Nomination.nominee_id,
                nominee.c.name,
                nominee.c.department,
                Nomination.is_self,
                Nomination.reason,
                nominator.c.name,
            )
            .join(nominee, nominee.c.id == Nomination.nominee_id)
            .outerjoin(nominator, nominator.c.id == Nomination.nominator_id)
            .where(Nomination.campaign_id == campaign.id, nominee.c.forgotten_at.is_(None))
            # Ids are random (they say nothing of the order of arrival): by day, then name.
            .order_by(Nomination.created_on, nominator.c.name, Nomination.id)
        )
        by_person: dict[int, Nominee] = {}
        for pid, name, dept, is_self, reason, by in await self.session.execute(stmt):
            entry = by_person.setdefault(pid, Nominee(pid, name, dept))
            entry.count += 1
            entry.self_nominated |= bool(is_self)
            shown = None if campaign.anonymous else by
            if shown and not is_self:
                entry.nominators.append(shown)
            if reason:
                entry.reasons.append((shown, reason))
        responses = await self.responses(campaign.id)
        for entry in by_person.values():
            entry.response = responses.get(entry.person_id)
        return sorted(by_person.values(), key=lambda n: (-n.count, fold_name(n.name)))

    async def invite(self, campaign_id: int, nominee: Nominee, now: datetime) -> bool:
        return await insert_ignore(
            self.session,
            NomineeResponse.__table__,  # type: ignore[arg-type]
            {
                "campaign_id": campaign_id,
                "person_id": nominee.person_id,
                "nominations": nominee.count,
                "self_nominated": nominee.self_nominated,
                "invited_at": now,
            },
            ["campaign_id", "person_id"],
        )

    async def respond(self, campaign_id: int, person_id: int, response: str, now: datetime) -> bool:
        """Record a nominee's answer (they may change it); False when not invited."""
        stmt = (
            update(NomineeResponse)
            .where(
                NomineeResponse.campaign_id == campaign_id,
                NomineeResponse.person_id == person_id,
            )
            .values(response=response, responded_at=now)
            .returning(NomineeResponse.person_id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def responses(self, campaign_id: int) -> dict[int, str | None]:
        stmt = select(NomineeResponse.person_id, NomineeResponse.response).where(
            NomineeResponse.campaign_id == campaign_id
        )
        return {pid: response for pid, response in await self.session.execute(stmt)}

    async def count(self, campaign_id: int) -> int:
        stmt = select(func.count()).where(Nomination.campaign_id == campaign_id)
        return int((await self.session.execute(stmt)).scalar_one())
