"""The overview (what is going on now) and the audit log (who did what, when).

The audit log shows who filed a report only to those who may see it on the report itself
(bot/web/queries.py audit_page)."""

from __future__ import annotations

from aiohttp import web

from bot.text import ascii_int
from bot.web import queries
from bot.web.auth import Visitor
from bot.web.charts import percent
from bot.web.site import Site
from storage.nominations import Nominations
from storage.questions import OPEN as QUESTION_OPEN
from storage.questions import Questions
from storage.reports import NEW, Reports

AUDIT_PAGE = 50


class OverviewViews:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[web.RouteDef]:
        guard = self.site.guard
        return [
            web.get("/admin", guard("view", self.overview)),
            web.get("/admin/", guard("view", self.overview)),
            web.get("/admin/audit", guard("or", self.audit)),
        ]

    async def overview(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        async with self.site.read_db.transaction(read_only=True) as session:
            polls = await queries.open_polls(session)
            answered = await queries.participants(session, polls)
            people = await queries.count_people(session)
            reach = await queries.count_accounts(session)
            questions = await Questions(session).recent(status=QUESTION_OPEN, limit=100)
            report_counts = await Reports(session).counts()
            campaign = await Nominations(session).current(self.site.now())
            recent, _more = (
                await queries.audit_page(
                    session, before=None, limit=8, moderator=visitor.is_moderator
                )
                if visitor.is_or_member
                else ([], False)
            )
        rows = [
            {
                "poll": p,
                "answered": answered.get(p.id, 0),
                "rate": percent(answered.get(p.id, 0), p.audience_size),
            }
            for p in polls
        ]
        return self.site.render(
            "overview.html",
            visitor,
            nav="overview",
            polls=rows,
            people=people,
            reach=sorted(reach.items()),
            recent=recent,
            open_questions=len(questions),
            reports_waiting=report_counts.get(NEW, 0),
            campaign=campaign,
        )

    async def audit(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        raw = request.query.get("before", "")
        before = ascii_int(raw)
        async with self.site.db.transaction(read_only=True) as session:
            rows, more = await queries.audit_page(
                session, before=before, limit=AUDIT_PAGE, moderator=visitor.is_moderator
            )
        return self.site.render(
            "audit.html",
            visitor,
            nav="audit",
            rows=rows,
            next_before=rows[-1].entry.id if more and rows else None,
        )
