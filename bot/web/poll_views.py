"""Polls on the dashboard: list, create, results with a live chart and breakdowns, close, CSV.

Creating and closing go through the use case (bot/usecases/polls.py), as the chat and the CLI
do, so a poll made here obeys the same rules and is sent, reminded and closed like any other.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.csvsafe import write_csv
from bot.i18n import pick, t
from bot.usecases import polls as poll_cases
from bot.usecases.polls import PollRefused
from bot.web import queries
from bot.web.auth import Visitor
from bot.web.charts import Bar, bar_chart, percent
from bot.web.followup_views import followup_context, outcome_message
from bot.web.poll_form import PollForm, parse_poll_form
from bot.web.render import see_other
from bot.web.site import Site, int_param
from storage.db import Database
from storage.models import Poll
from storage.people import Audience, People
from storage.polls import CLOSED, OPEN, Polls, Tally
from storage.vote_comments import VoteComments

LIST_LIMIT = 50


@dataclass(frozen=True, slots=True)
class Results:
    poll: Poll
    tally: Tally
    visible: bool
    breakdowns: list[queries.Breakdown]


class PollViews:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[web.RouteDef]:
        guard = self.site.guard
        return [
            web.get("/admin/polls", guard("view", self.list)),
            web.get("/admin/polls/new", guard("or", self.new)),
            web.post("/admin/polls", guard("or", self.create)),
            web.get("/admin/polls/{id}", guard("view", self.detail)),
            web.get("/admin/polls/{id}/live", guard("view", self.live)),
            web.get("/admin/polls/{id}/results.csv", guard("view", self.csv)),
            web.post("/admin/polls/{id}/close", guard("or", self.close)),
        ]

    async def list(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        async with self.site.read_db.transaction(read_only=True) as session:
            polls = await Polls(session).recent(limit=LIST_LIMIT)
            answered = await queries.participants(session, polls)
        rows = [
            {
                "poll": p,
                "answered": answered[p.id],
                "rate": percent(answered[p.id], p.audience_size),
            }
            for p in polls
        ]
        return self.site.render("polls.html", visitor, nav="polls", rows=rows)

    async def new(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        return await self._form(visitor, PollForm(), {})

    async def _form(
        self, visitor: Visitor, form: PollForm, errors: dict[str, str], status: int = 200
    ) -> web.Response:
        async with self.site.db.transaction(read_only=True) as session:
            people = People(session)
            segments = [("department", d) for d in await people.departments()]
            segments += [("location", loc) for loc in await people.locations()]
        return self.site.render(
            "poll_new.html",
            visitor,
            status=status,
            nav="polls",
            form=form,
            errors=errors,
            segments=segments,
        )

    async def create(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        raw = await request.post()
        form, errors = parse_poll_form(raw, now=self.site.now(), timezone=self.site.timezone)
        if errors:
            return await self._form(visitor, form, errors, status=400)
        try:
            async with self.site.db.transaction() as session:
                services = self.site.engine.services(session)
                created = await poll_cases.create_poll(
                    services, form.draft(), actor_id=visitor.person.id, via="web"
                )
        except PollRefused as refused:
            return await self._form(visitor, form, {refused.field: refused.key}, 400)
        if created.wake:
            self.site.engine.outbox_changed.set()
        raise see_other(f"/admin/polls/{created.poll.id}")

    async def _results(
        self, request: web.Request, visitor: Visitor, db: Database | None = None
    ) -> Results:
        """`db`: the read replica for the live figures and the CSV; the detail page, where
        creating and closing a poll lead, reads the primary."""
        poll_id = int_param(request, "id")
        async with (db or self.site.db).transaction(read_only=True) as session:
            polls = Polls(session)
            poll = await polls.get(poll_id)
            if poll is None:
                raise web.HTTPNotFound()
            visible = visitor.is_or_member or poll.status == CLOSED or not poll.hide_results
            tally = await polls.tally(poll)
            breakdowns = []
            if visible:
                for dimension in queries.DIMENSIONS:
                    found = await queries.breakdown(session, poll, dimension)
                    if found is not None:
                        breakdowns.append(found)
        return Results(poll, tally, visible, breakdowns)

    def _live_context(self, results: Results, lang: str) -> dict[str, Any]:
        poll, tally = results.poll, results.tally
        total = sum(o.count for o in tally.options)
        # Option labels as the visitor reads them: the author's English for an English reader.
        labels = [pick(lang, o.label, o.label_en) for o in tally.options]
        description = "; ".join(
            t(lang, "web.poll.chart_row", label=label, count=o.count, pct=percent(o.count, total))
            for label, o in zip(labels, tally.options, strict=True)
        )
        chart = bar_chart(
            [Bar(label, o.count) for label, o in zip(labels, tally.options, strict=True)],
            title=t(lang, "web.poll.chart_title", id=poll.id),
            description=description,
            chart_id=f"chart-{poll.id}",
        )
        return {
            "poll": poll,
            "tally": tally,
            "visible": results.visible,
            "chart": chart,
            "total": total,
            "percent": percent,
            "rate": percent(tally.participants, poll.audience_size),
        }

    async def detail(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        results = await self._results(request, visitor)
        async with self.site.db.transaction(read_only=True) as session:
            closed = results.poll.status == CLOSED
            followup = await followup_context(session, "poll", results.poll.id, closed=closed)
            # Remarks typed with named votes, for the OR, without names (issue 13).
            remarks = []
            if visitor.is_or_member and not results.poll.anonymous:
                remarks = await VoteComments(session).for_poll(results.poll.id)
        return self.site.render(
            "poll.html",
            visitor,
            nav="polls",
            breakdowns=results.breakdowns,
            audience=_audience_label(results.poll, visitor.lang),
            is_open=results.poll.status == OPEN,
            followup=followup,
            followup_notice=outcome_message(request, visitor.lang),
            remarks=remarks,
            **self._live_context(results, visitor.lang),
        )

    async def live(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        """The results part of the detail page, fetched again every few seconds."""
        results = await self._results(request, visitor, self.site.read_db)
        return self.site.render(
            "poll_live.html", visitor, **self._live_context(results, visitor.lang)
        )

    async def csv(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        results = await self._results(request, visitor, self.site.read_db)
        if not results.visible:
            return self.site.refuse(request, visitor)
        poll, tally = results.poll, results.tally
        labels = {o.option_id: o.label for o in tally.options}
        rows: list[list[Any]] = [
            ["total", "", tally.participants, o.label, o.count] for o in tally.options
        ]
        other = t(visitor.lang, "web.poll.other_groups")
        for b in results.breakdowns:
            groups = [*b.groups, *([b.other] if b.other else [])]
            for g in groups:
                name = other if g.name is None else (g.name or "-")
                rows += [
                    [b.dimension, name, g.voters, label, g.counts.get(oid, 0)]
                    for oid, label in labels.items()
                ]
        out = io.StringIO()
        write_csv(out, ["breakdown", "group", "voters", "option", "count"], rows)
        return web.Response(
            text=out.getvalue(),
            content_type="text/csv",
            charset="utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="poll-{poll.id}.csv"',
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def close(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        poll_id = int_param(request, "id")
        async with self.site.db.transaction() as session:
            services = self.site.engine.services(session)
            poll = await services.polls.get(poll_id)
            if poll is None:
                raise web.HTTPNotFound()
            closed = await poll_cases.close_poll(services, poll, actor_id=visitor.person.id)
        if closed:
            self.site.engine.outbox_changed.set()
        raise see_other(f"/admin/polls/{poll_id}")


def _audience_label(poll: Poll, lang: str) -> str:
    audience = Audience.from_dict(poll.audience)
    if audience.department:
        return t(lang, "create.department", name=audience.department)
    if audience.location:
        return t(lang, "create.location", name=audience.location)
    return t(lang, "create.everyone")
