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
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage import stats_cache
from storage.broadcast_models import Broadcast
from storage.db import Database
from storage.models import Nomination, NominationCampaign, OpenQuestion, Poll, PollTarget
from storage.stats_cache import CACHED_KINDS, Key
from storage.stats_sql import Cell, figures

MIN_GROUP = 5
DIMENSIONS = ("channel", "department", "location")
OTHER, UNKNOWN = "(other)", "(unknown)"
TITLE = 80
CLOSED = "closed"


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
    closed: bool = False  # its figures can be cached (storage/stats_cache.py)
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


async def report(
    db: Database, timezone: ZoneInfo, since: datetime | None, *, read: Database | None = None
) -> dict[str, Any]:
    """The report read in a read-only transaction (on `read`, a replica, when given), then
    what it found worth caching written to `db` (the primary) in a write transaction."""
    async with (read or db).transaction(read_only=True) as session:
        stats = Stats(session, timezone)
        out = await stats.report(since)
    await stats_cache.keep_in(db, stats.pending)
    return out


class Stats:
    """Long queries, short Python: every count is a GROUP BY in the database (issue 15: at
    1,000,000 ballots, reading each row into Python took 22-28 s)."""

    def __init__(self, session: AsyncSession, timezone: ZoneInfo) -> None:
        self.session = session
        self.timezone = timezone
        # What the report found worth storing; the report itself only reads (it may run on a
        # read replica): the caller writes this with stats_cache.keep / keep_in.
        self.pending = stats_cache.Pending()

    async def report(self, since: datetime | None) -> dict[str, Any]:
        items = await self.items(since)
        return {
            "since": since.astimezone(self.timezone).date().isoformat() if since else None,
            "min_group": MIN_GROUP,
            "items": [i.as_dict(self.timezone) for i in items],
            "trend": self.trend(items),
        }

    async def items(self, since: datetime | None) -> list[Item]:
        items = [
            *await self._polls(since),
            *await self._questions(since),
            *await self._campaigns(since),
            *await self._broadcasts(since),
        ]
        cells = await self._cells(items, since)
        unattributed = await self._unattributed()
        for item in items:
            extra = unattributed.get(item.id, 0) if item.kind == "campaign" else 0
            _fill(item, cells[item.kind, item.id], extra)
        items.sort(key=lambda i: (i.date, i.kind, i.id))
        return items

    async def _cells(self, items: list[Item], since: datetime | None) -> dict[Key, list[Cell]]:
        """Per item its margins(): closed items' from the cache (whole history only), the rest
        counted live; closed ones whose messages are settled go into self.pending."""
        wanted = {(i.kind, i.id) for i in items}
        closed = {(i.kind, i.id) for i in items if i.closed and i.kind in CACHED_KINDS}
        current = await stats_cache.stamp(self.session) if since is None and closed else ""
        cells: dict[Key, list[Cell]] = defaultdict(list)
        if current:
            self.pending.stamp = current
            cells.update(await stats_cache.load(self.session, closed, current, self.pending))
        live = wanted - cells.keys()
        if not live:
            return cells
        only: dict[str, set[int]] = defaultdict(set)
        for kind, item_id in live:
            only[kind].add(item_id)
        if self.session.get_bind().dialect.name == "postgresql":
            # One big GROUP BY: in memory rather than sorted on disk (4 MB default: 300 MB of
            # temp files at 1,000,000 ballots), and not worth compiling (JIT took 0.2-0.5 s).
            await self.session.execute(text("SET LOCAL work_mem = '128MB'"))
            await self.session.execute(text("SET LOCAL jit = off"))
        for kind, item_id, *cell in await self.session.execute(figures(since, dict(only))):
            if (kind, item_id) in live:
                cells[kind, item_id].append(Cell(*cell))
        for key in live:
            cells[key] = margins(cells[key])
        if current:
            fresh = await stats_cache.settled(self.session, closed & live)
            self.pending.cells.update({k: cells[k] for k in fresh})
        return cells

    async def _polls(self, since: datetime | None) -> list[Item]:
        rows = await self.session.execute(select(PollTarget.poll_id, PollTarget.target))
        targets = {poll_id: target for poll_id, target in rows}
        p = Poll
        stmt = select(p.id, p.question, p.opens_at, p.status).where(p.status != "scheduled")
        return [
            Item("poll", i, title, at, target=targets.get(i), closed=status == CLOSED)
            for i, title, at, status in await self._rows(stmt, p.opens_at, since)
        ]

    async def _questions(self, since: datetime | None) -> list[Item]:
        q = OpenQuestion
        stmt = select(q.id, q.text, q.created_at, q.status)
        return [
            Item("question", i, title, at, closed=status == CLOSED)
            for i, title, at, status in await self._rows(stmt, q.created_at, since)
        ]

    async def _campaigns(self, since: datetime | None) -> list[Item]:
        c = NominationCampaign
        stmt = select(c.id, c.title, c.opens_at, c.status)
        return [
            Item("campaign", i, title, at, closed=status == CLOSED)
            for i, title, at, status in await self._rows(stmt, c.opens_at, since)
        ]

    async def _broadcasts(self, since: datetime | None) -> list[Item]:
        b = Broadcast
        stmt = select(b.id, b.text, b.started_at, b.scheduled_at).where(b.started_at.is_not(None))
        return [
            Item("broadcast", i, text, started or scheduled)
            for i, text, started, scheduled in await self._rows(stmt, b.started_at, since)
        ]

    async def _rows(self, stmt: Any, column: Any, since: datetime | None) -> list[Any]:
        if since is not None:
            stmt = stmt.where(column >= since)
        return list(await self.session.execute(stmt))

    async def _unattributed(self) -> dict[int, int]:
        """An anonymous campaign erased its nominators at closing: each still counts."""
        n = Nomination
        stmt = (
            select(n.campaign_id, func.count())
            .where(n.nominator_id.is_(None))
            .group_by(n.campaign_id)
        )
        return {campaign: count for campaign, count in await self.session.execute(stmt)}

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


def margins(cells: list[Cell]) -> list[Cell]:
    """Per dimension, its groups' sums, each as a Cell with only that dimension's column set
    (a missing value as UNKNOWN): all the report shows, since small groups are merged per
    dimension, and what the cache keeps: a department's or location's rows instead of every
    channel x department x location combination (thousands per item at 100,000 people)."""
    out: list[Cell] = []
    for dim in DIMENSIONS:
        sums: dict[str, list[int]] = {}
        for cell in cells:
            total = sums.setdefault(getattr(cell, dim) or UNKNOWN, [0, 0])
            total[0] += cell.reach
            total[1] += cell.responses
        for key, (reach, responses) in sums.items():
            names = {d: key if d == dim else None for d in DIMENSIONS}
            out.append(Cell(**names, reach=reach, responses=responses))
    return out


def _fill(item: Item, margins: list[Cell], unattributed: int) -> None:
    """`margins` as margins() makes them: everyone is in one group of each dimension, so the
    item's totals are the sums over one dimension's groups."""
    item.title = " ".join(item.title.split())[:TITLE]
    by_channel = [c for c in margins if c.channel is not None]
    item.reach = sum(c.reach for c in by_channel) + unattributed
    item.responses = sum(c.responses for c in by_channel) + unattributed
    for dim in DIMENSIONS:
        groups: dict[str, Group] = {}
        for cell in margins:
            key = getattr(cell, dim)
            if key is None:
                continue
            group = groups.setdefault(key, Group(key))
            group.reach += cell.reach
            group.responses += cell.responses
        item.breakdowns[dim] = suppress(groups)
