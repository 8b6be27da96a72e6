"""Figures for the OR ("Doelmatigheid"): per poll, open question, broadcast and nomination
campaign the reach and the response rate, by channel, department and location, and the
trend per month.

Reach is who the message reached: a platform accepted it (sent) or reported it delivered or
read, plus anyone who responded (responding proves it arrived). For polls, questions and
campaigns the messages are found through the prompt stored with them (their buttons name the
item: `poll:<id>:…`, `oq:<id>:…`, `nom:<id>:…`); broadcasts have their own recipient rows.

Anonymity: a breakdown group smaller than MIN_GROUP is never shown. Small groups are merged
into one "other" group; when that group would itself be small (so the total minus the shown
groups would give it away), the smallest shown groups are merged into it too, and when even
everything together is small, the breakdown is hidden altogether.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.text import ascii_int
from storage.broadcast_models import (
    Broadcast,
    BroadcastReaction,
    BroadcastRecipient,
    BroadcastReply,
)
from storage.models import (
    Ballot,
    Nomination,
    NominationCampaign,
    OpenAnswer,
    OpenQuestion,
    OutboxMessage,
    Participation,
    Person,
    Poll,
    PollTarget,
    QuestionParticipation,
)

MIN_GROUP = 5
DIMENSIONS = ("channel", "department", "location")
OTHER, UNKNOWN = "(other)", "(unknown)"
PREFIXES = {"poll": "poll", "oq": "question", "nom": "campaign"}
REACHED = ("sent", "held")
REPORTED = ("delivered", "read")
TITLE = 80


@dataclass
class Group:
    name: str
    reach: int = 0
    responses: int = 0

    @property
    def rate(self) -> float | None:
        return round(self.responses / self.reach, 4) if self.reach else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.name,
            "reach": self.reach,
            "responses": self.responses,
            "response_rate": self.rate,
        }


@dataclass
class Item:
    kind: str
    id: int
    title: str
    date: datetime
    reach: int = 0
    responses: int = 0
    target: int | None = None  # percent, polls only
    breakdowns: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def rate(self) -> float | None:
        return round(self.responses / self.reach, 4) if self.reach else None

    @property
    def target_reached(self) -> bool | None:
        if self.target is None:
            return None
        return self.rate is not None and self.rate * 100 >= self.target

    def as_dict(self, timezone: ZoneInfo) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "title": self.title,
            "date": self.date.astimezone(timezone).date().isoformat(),
            "reach": self.reach,
            "responses": self.responses,
            "response_rate": self.rate,
            "target": self.target,
            "target_reached": self.target_reached,
            **{f"by_{dim}": self.breakdowns[dim] for dim in DIMENSIONS},
        }


@dataclass
class Facts:
    """Per item: who was reached (and on which channel) and who responded."""

    channels: dict[int, str | None] = field(default_factory=dict)
    reached: set[int] = field(default_factory=set)
    responded: set[int] = field(default_factory=set)
    unattributed: int = 0  # responses that no longer name a person (anonymous, erased)


def suppress(groups: dict[str, Group], min_size: int = MIN_GROUP) -> dict[str, Any]:
    """The groups that may be shown, small ones merged so none can be recovered."""
    shown = {k: g for k, g in groups.items() if g.reach >= min_size}
    merged = [g for g in groups.values() if g.reach < min_size]
    while 0 < sum(g.reach for g in merged) < min_size and shown:
        merged.append(shown.pop(min(shown, key=lambda k: (shown[k].reach, k))))
    other = Group(OTHER, sum(g.reach for g in merged), sum(g.responses for g in merged))
    out = [g.as_dict() for _, g in sorted(shown.items())]
    if other.reach >= min_size:
        out.append(other.as_dict())
    return {"groups": out, "merged": len(merged), "hidden": 0 < other.reach < min_size}


class Stats:
    def __init__(self, session: AsyncSession, timezone: ZoneInfo) -> None:
        self.session = session
        self.timezone = timezone

    async def report(self, since: datetime | None) -> dict[str, Any]:
        items = await self.items(since)
        return {
            "since": since.astimezone(self.timezone).date().isoformat() if since else None,
            "min_group": MIN_GROUP,
            "items": [i.as_dict(self.timezone) for i in items],
            "trend": self.trend(items),
        }

    async def items(self, since: datetime | None) -> list[Item]:
        facts: dict[tuple[str, int], Facts] = defaultdict(Facts)
        items = [
            *await self._polls(since, facts),
            *await self._questions(since, facts),
            *await self._campaigns(since, facts),
            *await self._broadcasts(since, facts),
        ]
        await self._prompt_facts(facts, since)
        people = await self._people(facts.values())
        for item in items:
            self._fill(item, facts[item.kind, item.id], people)
        items.sort(key=lambda i: (i.date, i.kind, i.id))
        return items

    async def _polls(self, since: datetime | None, facts: dict[Any, Facts]) -> list[Item]:
        rows = await self.session.execute(select(PollTarget.poll_id, PollTarget.target))
        targets = {poll_id: target for poll_id, target in rows}
        items = []
        for poll in await self._rows(select(Poll), Poll.opens_at, since):
            if poll.status == "scheduled":
                continue
            items.append(
                Item("poll", poll.id, poll.question, poll.opens_at, target=targets.get(poll.id))
            )
            table = Participation if poll.anonymous else Ballot
            who = select(table.person_id).where(table.poll_id == poll.id)
            facts["poll", poll.id].responded |= set(await self._ids(who))
        return items

    async def _questions(self, since: datetime | None, facts: dict[Any, Facts]) -> list[Item]:
        items = []
        for q in await self._rows(select(OpenQuestion), OpenQuestion.created_at, since):
            items.append(Item("question", q.id, q.text, q.created_at))
            named = select(OpenAnswer.person_id).where(OpenAnswer.question_id == q.id)
            anonymous = select(QuestionParticipation.person_id).where(
                QuestionParticipation.question_id == q.id
            )
            f = facts["question", q.id]
            f.responded |= set(await self._ids(named)) | set(await self._ids(anonymous))
        return items

    async def _campaigns(self, since: datetime | None, facts: dict[Any, Facts]) -> list[Item]:
        items = []
        campaigns = select(NominationCampaign)
        for c in await self._rows(campaigns, NominationCampaign.opens_at, since):
            items.append(Item("campaign", c.id, c.title, c.opens_at))
            stmt = select(Nomination.nominator_id).where(Nomination.campaign_id == c.id)
            nominators = list((await self.session.execute(stmt)).scalars())
            f = facts["campaign", c.id]
            f.responded |= {n for n in nominators if n is not None}
            # An anonymous campaign erased its nominators at closing: each still counts.
            f.unattributed = sum(n is None for n in nominators)
        return items

    async def _broadcasts(self, since: datetime | None, facts: dict[Any, Facts]) -> list[Item]:
        items = []
        started = select(Broadcast).where(Broadcast.started_at.is_not(None))
        for b in await self._rows(started, Broadcast.started_at, since):
            items.append(Item("broadcast", b.id, b.text, b.started_at or b.scheduled_at))
            await self._broadcast_facts(b.id, facts["broadcast", b.id])
        return items

    async def _rows(self, stmt: Any, column: Any, since: datetime | None) -> list[Any]:
        if since is not None:
            stmt = stmt.where(column >= since)
        return list((await self.session.execute(stmt)).scalars())

    async def _ids(self, stmt: Any) -> list[int]:
        return [i for i in (await self.session.execute(stmt)).scalars() if i is not None]

    async def _prompt_facts(
        self, facts: dict[tuple[str, int], Facts], since: datetime | None
    ) -> None:
        o = OutboxMessage
        stmt = select(o.person_id, o.channel, o.status, o.delivery_status, o.prompt).where(
            o.prompt.is_not(None), o.person_id.is_not(None)
        )
        if since is not None:
            stmt = stmt.where(o.created_at >= since)
        for person_id, channel, status, delivery, prompt in await self.session.execute(stmt):
            key = _item_of(prompt)
            if key is None or key not in facts:
                continue
            f = facts[key]
            reached = status in REACHED or delivery in REPORTED
            if reached:
                f.reached.add(person_id)
            if reached or person_id not in f.channels:
                f.channels[person_id] = channel

    async def _broadcast_facts(self, broadcast_id: int, f: Facts) -> None:
        r, o = BroadcastRecipient, OutboxMessage
        stmt = (
            select(r.person_id, r.channel, o.status, o.delivery_status, r.feedback)
            .add_columns(r.acknowledged_at)
            .outerjoin(o, o.id == r.outbox_id)
            .where(r.broadcast_id == broadcast_id, r.state == "queued")
        )
        rows = await self.session.execute(stmt)
        for person_id, channel, status, delivery, feedback, acked in rows:
            f.channels[person_id] = channel
            if status in REACHED or delivery in REPORTED:
                f.reached.add(person_id)
            if feedback or acked:
                f.responded.add(person_id)
        for table in (BroadcastReply, BroadcastReaction):
            stmt = select(table.person_id).where(table.broadcast_id == broadcast_id)
            f.responded |= set(await self._ids(stmt))

    async def _people(self, all_facts: Iterable[Facts]) -> dict[int, Person]:
        ids: set[int] = set()
        for f in all_facts:
            ids |= f.reached | f.responded
        out: dict[int, Person] = {}
        chunk = sorted(ids)
        for start in range(0, len(chunk), 500):
            stmt = select(Person).where(Person.id.in_(chunk[start : start + 500]))
            out.update({p.id: p for p in (await self.session.execute(stmt)).scalars()})
        return out

    def _fill(self, item: Item, f: Facts, people: dict[int, Person]) -> None:
        population = f.reached | f.responded
        item.title = " ".join(item.title.split())[:TITLE]
        item.reach = len(population) + f.unattributed
        item.responses = len(f.responded) + f.unattributed
        for dim in DIMENSIONS:
            groups: dict[str, Group] = {}
            for pid in population:
                person = people.get(pid)
                if dim == "channel":
                    name = f.channels.get(pid)
                else:
                    name = getattr(person, dim, None) if person else None
                key = name or UNKNOWN
                group = groups.setdefault(key, Group(key))
                group.reach += 1
                group.responses += pid in f.responded
            item.breakdowns[dim] = suppress(groups)

    def trend(self, items: list[Item]) -> list[dict[str, Any]]:
        months: dict[tuple[str, str], Group] = {}
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for item in items:
            key = (item.date.astimezone(self.timezone).strftime("%Y-%m"), item.kind)
            group = months.setdefault(key, Group(key[1]))
            group.reach += item.reach
            group.responses += item.responses
            counts[key] += 1
        return [
            {
                "month": month,
                "kind": kind,
                "items": counts[month, kind],
                "reach": g.reach,
                "responses": g.responses,
                "response_rate": g.rate,
            }
            for (month, kind), g in sorted(months.items())
        ]


def _item_of(prompt: dict[str, Any] | None) -> tuple[str, int] | None:
    for _label, payload in (prompt or {}).get("choices", []):
        bits = str(payload).split(":")
        number = ascii_int(bits[1]) if len(bits) >= 2 and bits[0] in PREFIXES else None
        if number is not None:
            return PREFIXES[bits[0]], number
    return None
