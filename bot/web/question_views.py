"""Open questions on the dashboard: the answers with search, their themes (bot/themes),
hiding abusive ones, CSV export, and "Wat doet de OR ermee?" once closed.

Anonymous answers carry no name and only a date (storage/questions.py sees to that); hidden
answers stay in the database for the audit log and are never shown or exported.
"""

from __future__ import annotations

import io

from aiohttp import web
from sqlalchemy import func, select

from bot.csvsafe import write_csv
from bot.themes import answers as answer_themes
from bot.usecases import Refused, questions
from bot.web.auth import Visitor
from bot.web.followup_views import followup_context, outcome_message
from bot.web.render import see_other
from bot.web.site import Site, int_param
from storage.models import OpenAnswer
from storage.questions import CLOSED, Questions

LIST_LIMIT = 50


class QuestionViews:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[web.RouteDef]:
        guard = self.site.guard
        return [
            web.get("/admin/questions", guard("view", self.list)),
            web.get("/admin/questions/{id}", guard("view", self.detail)),
            web.get("/admin/questions/{id}/answers.csv", guard("view", self.csv)),
            web.post("/admin/questions/{id}/answers/{answer}/hide", guard("moderate", self.hide)),
        ]

    async def list(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        async with self.site.db.transaction(read_only=True) as session:
            questions = await Questions(session).recent(limit=LIST_LIMIT)
            ids = [q.id for q in questions]
            counts: dict[int, int] = {}
            if ids:
                stmt = (
                    select(OpenAnswer.question_id, func.count())
                    .where(OpenAnswer.question_id.in_(ids), OpenAnswer.hidden_at.is_(None))
                    .group_by(OpenAnswer.question_id)
                )
                counts = {qid: int(n) for qid, n in await session.execute(stmt)}
        rows = [{"question": q, "answers": counts.get(q.id, 0)} for q in questions]
        return self.site.render("questions.html", visitor, nav="questions", rows=rows)

    async def detail(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        question_id = int_param(request, "id")
        search = request.query.get("q", "").strip()[:200]
        async with self.site.db.transaction(read_only=True) as session:
            questions = Questions(session)
            question = await questions.get(question_id)
            if question is None:
                return self.site.refuse(request, visitor, 404)
            answers = await questions.answers(question, contains=search or None)
            followup = await followup_context(
                session, "question", question.id, closed=question.status == CLOSED
            )
        # Themes of all answers; not of a search's few (they would only echo the search).
        themes = None
        if not search:
            found = await answer_themes.themes_of([(a.id, a.text) for a in answers])
            themes = answer_themes.as_dicts(found, visitor.lang)
        return self.site.render(
            "question.html",
            visitor,
            nav="questions",
            question=question,
            answers=answers,
            search=search,
            hidden=request.query.get("hidden") == "1",
            themes=themes,
            theme_texts={a.id: a.text for a in answers},
            followup=followup,
            followup_notice=outcome_message(request, visitor.lang),
        )

    async def csv(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        question_id = int_param(request, "id")
        async with self.site.read_db.transaction(read_only=True) as session:
            questions = Questions(session)
            question = await questions.get(question_id)
            if question is None:
                return self.site.refuse(request, visitor, 404)
            answers = await questions.answers(question)
        out = io.StringIO()
        write_csv(
            out,
            ["answer", "answered_on", "name", "department", "text"],
            [[a.id, a.answered_on, a.name, a.department, a.text] for a in answers],
        )
        return web.Response(
            text=out.getvalue(),
            content_type="text/csv",
            charset="utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="question-{question_id}.csv"',
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def hide(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        question_id = int_param(request, "id")
        answer_id = int_param(request, "answer")
        async with self.site.db.transaction() as session:
            try:
                await questions.hide_answer(
                    self.site.engine.services(session),
                    answer_id,
                    moderator_id=visitor.person.id,
                    question_id=question_id,
                )
            except Refused as refused:
                status = 403 if refused.key == "question.moderators_only" else 404
                return self.site.refuse(request, visitor, status)
        raise see_other(f"/admin/questions/{question_id}?hidden=1")
