"""Surveys (consultations) on the dashboard: list, create with a question editor (or from a
template), live results with charts, themes and a cross-tab, close, and the PDF report.

Creating and closing go through the survey use case (bot/usecases/surveys.py), as the chat
and the CLI do, so a survey made here obeys the same rules and opens, reminds and closes like
any other. The report is the one `achterban survey report` writes (bot/web/survey_report.py).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.i18n import normalise_language, t
from bot.usecases import Refused, broadcasts, followups
from bot.usecases import surveys as survey_cases
from bot.usecases.survey_followup import survey_subject
from bot.usecases.surveys import SurveyRefused
from bot.web.auth import Visitor
from bot.web.followup_views import OUTCOMES, followup_context, outcome_message
from bot.web.render import SECURITY_HEADERS, see_other
from bot.web.site import Site, int_param
from bot.web.survey_form import (
    SurveyForm,
    change_rows,
    from_template,
    read_form,
    template_choices,
    to_draft,
)
from bot.web.survey_page import crosstab_chart, group_name, survey_view
from bot.web.survey_report import report_pdf
from storage.people import People
from storage.surveys import CLOSED, OPEN, Surveys

LIST_LIMIT = 50


class SurveyViews:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[web.RouteDef]:
        guard = self.site.guard
        return [
            web.get("/admin/surveys", guard("view", self.list)),
            web.get("/admin/surveys/new", guard("or", self.new)),
            web.post("/admin/surveys", guard("or", self.create)),
            web.get("/admin/surveys/{id}", guard("view", self.detail)),
            web.get("/admin/surveys/{id}/live", guard("view", self.live)),
            web.get("/admin/surveys/{id}/report.pdf", guard("view", self.report)),
            web.post("/admin/surveys/{id}/close", guard("or", self.close)),
            web.post("/admin/surveys/{id}/follow-up", guard("or", self.follow_up)),
        ]

    async def list(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        async with self.site.db.transaction(read_only=True) as session:
            repo = Surveys(session)
            surveys = await repo.recent(limit=LIST_LIMIT)
            rows = []
            for survey in surveys:
                finished = sum(1 for p in await repo.participants(survey.id) if p.finished)
                rate = round(100 * finished / survey.audience_size) if survey.audience_size else 0
                rows.append({"survey": survey, "finished": finished, "rate": rate})
        return self.site.render("surveys.html", visitor, nav="surveys", rows=rows)

    async def new(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        language = normalise_language(request.query.get("language") or visitor.lang)
        name = request.query.get("template", "")[:80]
        form = SurveyForm(language=language)
        errors: dict[str, tuple[str, dict[str, Any]]] = {}
        if name:
            try:
                form = from_template(name, language, self.site.now(), self.site.timezone)
            except SurveyRefused as refused:
                errors["template"] = (refused.key, dict(refused.params))
        return await self._form(visitor, form, errors, template=name)

    async def _form(
        self,
        visitor: Visitor,
        form: SurveyForm,
        errors: dict[str, tuple[str, dict[str, Any]]],
        *,
        status: int = 200,
        template: str = "",
    ) -> web.Response:
        async with self.site.db.transaction(read_only=True) as session:
            people = People(session)
            segments = [("department", d) for d in await people.departments()]
            segments += [("location", loc) for loc in await people.locations()]
        return self.site.render(
            "survey_new.html",
            visitor,
            status=status,
            nav="surveys",
            form=form,
            errors=errors,
            segments=segments,
            templates=template_choices(form.language),
            chosen_template=template,
        )

    async def create(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        raw = await request.post()
        form = read_form(raw)
        action = raw.get("action")
        if isinstance(action, str) and change_rows(form, action):
            return await self._form(visitor, form, {})
        draft, errors = to_draft(form, now=self.site.now(), tz=self.site.timezone)
        if draft is None:
            return await self._form(visitor, form, errors, status=400)
        try:
            async with self.site.db.transaction() as session:
                services = self.site.engine.services(session)
                created = await survey_cases.create_survey(
                    services, draft, actor_id=visitor.person.id, via="web"
                )
        except SurveyRefused as refused:
            errors = {refused.field: (refused.key, dict(refused.params))}
            return await self._form(visitor, form, errors, status=400)
        if created.wake:
            self.site.engine.outbox_changed.set()
        raise see_other(f"/admin/surveys/{created.survey.id}")

    async def detail(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        survey_id = int_param(request, "id")
        lang = visitor.lang
        async with self.site.db.transaction(read_only=True) as session:
            services = self.site.engine.services(session)
            view = await survey_view(services, survey_id, lang)
            if view is None:
                return self.site.refuse(request, visitor, 404)
            cross = await self._crosstab(services, request, view.results, lang)
            followup = await followup_context(
                session, "survey", survey_id, closed=view.survey.status == CLOSED
            )
        return self.site.render(
            "survey.html",
            visitor,
            nav="surveys",
            view=view,
            survey=view.survey,
            turnout=view.results["turnout"],
            is_open=view.survey.status == OPEN,
            is_closed=view.survey.status == CLOSED,
            group_name=lambda name, dim: group_name(name, dim, lang),
            followup=followup,
            followup_notice=outcome_message(request, lang),
            **cross,
        )

    async def live(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        """The figures of the page (no themes), fetched again every few seconds."""
        survey_id = int_param(request, "id")
        lang = visitor.lang
        async with self.site.db.transaction(read_only=True) as session:
            view = await survey_view(
                self.site.engine.services(session), survey_id, lang, themes=False
            )
            if view is None:
                return self.site.refuse(request, visitor, 404)
        return self.site.render(
            "survey_live.html",
            visitor,
            view=view,
            survey=view.survey,
            turnout=view.results["turnout"],
            group_name=lambda name, dim: group_name(name, dim, lang),
        )

    async def _crosstab(
        self, services: Any, request: web.Request, results: dict[str, Any], lang: str
    ) -> dict[str, Any]:
        """The cross-tab picker's choices, and the table when one was asked for."""
        crossable = [q for q in results["questions"] if q["kind"] != "open"]
        positions = {str(q["position"]) for q in crossable}
        q = request.query.get("q", "")
        by = request.query.get("by", "department")
        table: dict[str, Any] | None = None
        refused: str | None = None
        if q in positions:
            try:
                table = await survey_cases.crosstab(services, results["survey"]["id"], int(q), by)
            except SurveyRefused as exc:
                refused = exc.key
        return {
            "crossable": crossable,
            "cross_q": q,
            "cross_by": by,
            "cross": table,
            "cross_refused": refused,
            "cross_chart": crosstab_chart(table, lang) if table and table["rows"] else None,
        }

    async def close(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        survey_id = int_param(request, "id")
        async with self.site.db.transaction() as session:
            services = self.site.engine.services(session)
            survey = await Surveys(session).get(survey_id)
            if survey is None:
                return self.site.refuse(request, visitor, 404)
            closed = await survey_cases.close_survey(services, survey, actor_id=visitor.person.id)
        if closed:
            self.site.engine.outbox_changed.set()
        raise see_other(f"/admin/surveys/{survey_id}")

    async def report(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        survey_id = int_param(request, "id")
        lang = normalise_language(request.query.get("lang") or visitor.lang)
        async with self.site.db.transaction(read_only=True) as session:
            services = self.site.engine.services(session)
            view = await survey_view(services, survey_id, lang)
            if view is None:
                return self.site.refuse(request, visitor, 404)
        pdf = await report_pdf(view, lang, self.site.timezone)
        name = t(lang, "web.survey.report_file", id=survey_id)
        return web.Response(
            body=pdf,
            content_type="application/pdf",
            headers={
                **SECURITY_HEADERS,
                "Content-Disposition": f'attachment; filename="{name}"',
            },
        )

    async def follow_up(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        """ "Wat doet de OR ermee?": read the survey's results without holding the write lock,
        then send (bot/usecases/followups.py), as the poll and question pages do."""
        survey_id = int_param(request, "id")
        form = await request.post()
        text = str(form.get("text", ""))
        actor = broadcasts.Actor(visitor.person.id, visitor.roles, via="web")
        page = f"/admin/surveys/{survey_id}"
        try:
            async with self.site.db.transaction(read_only=True) as session:
                subject = await survey_subject(self.site.engine.services(session), survey_id)
            async with self.site.db.transaction() as session:
                sent = await followups.send(
                    self.site.engine.services(session), subject, text, actor
                )
        except Refused as refused:
            if refused.key == followups.NOT_FOUND:
                return self.site.refuse(request, visitor, 404)
            raise see_other(f"{page}?followup={OUTCOMES.get(refused.key, 'refused')}") from None
        if sent.wake_worker:
            self.site.engine.outbox_changed.set()
        raise see_other(f"{page}?followup=sent")
