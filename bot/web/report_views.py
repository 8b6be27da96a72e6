"""Unsafe-situation reports on the dashboard: the moderation queue, status, notes, photos.

Moderators (and admins) see every report, its processed photos and, on request, the originals
(each look at an original is logged); OR members see published reports only, with processed
photos. Status changes and notes go through bot/usecases/reports.py, so the reporter is told
and a published report reaches the OR exactly as when a moderator presses a chat button.
The reporter's name is shown only for named reports.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from bot.usecases import Refused
from bot.usecases.reports import MAX_REASON, MAX_TEXT, RETYPE, add_moderator_note, set_status
from bot.web.auth import Visitor
from bot.web.media import media_response, media_store
from bot.web.render import see_other
from bot.web.site import Site, int_param
from storage.audit import audit
from storage.media import MediaError, media_kind
from storage.models import Report, ReportPhoto
from storage.reports import NAMED, PUBLISHED, STATUSES, Reports, allowed

LIST_LIMIT = 100


class ReportViews:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[web.RouteDef]:
        guard = self.site.guard
        return [
            web.get("/admin/reports", guard("view", self.list)),
            web.get("/admin/reports/{id}", guard("view", self.detail)),
            web.post("/admin/reports/{id}/status", guard("moderate", self.status)),
            web.post("/admin/reports/{id}/notes", guard("moderate", self.note)),
            web.get("/admin/media/{media}", guard("view", self.media)),
        ]

    async def list(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        status = request.query.get("status", "")
        if not visitor.is_moderator:
            status = PUBLISHED  # OR members see what moderators published
        elif status not in STATUSES:
            status = ""
        async with self.site.db.transaction(read_only=True) as session:
            reports = await Reports(session).recent(status=status or None, limit=LIST_LIMIT)
            counts = await Reports(session).counts() if visitor.is_moderator else {}
        return self.site.render(
            "reports.html",
            visitor,
            nav="reports",
            reports=reports,
            current_status=status,
            statuses=STATUSES,
            counts=counts,
        )

    async def _report(self, request: web.Request, visitor: Visitor) -> Report:
        async with self.site.db.transaction(read_only=True) as session:
            report = await Reports(session).get(int_param(request, "id"))
        if report is None or not (visitor.is_moderator or report.status == PUBLISHED):
            raise web.HTTPNotFound()
        return report

    async def detail(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        report = await self._report(request, visitor)
        async with self.site.db.transaction(read_only=True) as session:
            reports = Reports(session)
            photos = await reports.photos(report.id)
            notes = await reports.notes(report.id) if visitor.is_moderator else []
            reporter = None
            if report.privacy == NAMED and report.reporter_id and visitor.is_moderator:
                reporter = await self.site.engine.services(session).people.get(report.reporter_id)
        return self.site.render(
            "report.html",
            visitor,
            nav="reports",
            report=report,
            photos=photos,
            notes=notes,
            reporter=reporter,
            next_statuses=[s for s in STATUSES if allowed(report.status, s)],
            problem=request.query.get("problem"),
            max_reason=MAX_REASON,
            max_text=MAX_TEXT,
        )

    async def status(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        report = await self._report(request, visitor)
        form = await request.post()
        try:
            async with self.site.db.transaction() as session:
                await set_status(
                    self.site.engine.services(session),
                    report.id,
                    str(form.get("status") or ""),
                    moderator_id=visitor.person.id,
                    reason=str(form.get("reason") or ""),
                )
        except Refused as refused:
            problem = "reason" if refused.key == RETYPE else "status"
            raise see_other(f"/admin/reports/{report.id}?problem={problem}") from refused
        self.site.engine.outbox_changed.set()
        raise see_other(f"/admin/reports/{report.id}")

    async def note(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        report = await self._report(request, visitor)
        form = await request.post()
        try:
            async with self.site.db.transaction() as session:
                await add_moderator_note(
                    self.site.engine.services(session),
                    report.id,
                    str(form.get("text") or ""),
                    moderator_id=visitor.person.id,
                )
        except Refused as refused:
            raise see_other(f"/admin/reports/{report.id}?problem=note") from refused
        raise see_other(f"/admin/reports/{report.id}")

    async def media(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        """A report photo: processed for who may see the report, originals for moderators."""
        media_id = request.match_info["media"]
        try:
            kind = media_kind(media_id)
        except MediaError:
            raise web.HTTPNotFound() from None
        column = ReportPhoto.original_id if kind == "original" else ReportPhoto.processed_id
        async with self.site.db.transaction(read_only=True) as session:
            stmt = (
                select(Report.id, Report.status)
                .join(ReportPhoto, ReportPhoto.report_id == Report.id)
                .where(column == media_id)
            )
            if not visitor.is_moderator:
                stmt = stmt.where(Report.status == PUBLISHED)
            found = (await session.execute(stmt.limit(1))).first()
        if found is None or (kind == "original" and not visitor.is_moderator):
            return self.site.refuse(request, visitor, 404 if found is None else 403)
        if kind == "original":
            async with self.site.db.transaction() as session:
                await audit(
                    session,
                    "report.original_viewed",
                    actor_id=visitor.person.id,
                    subject=f"report:{found[0]}",
                )
        return media_response(media_store(self.site.engine), media_id)
