"""The dashboard's routes and the static files, for the server to add (bot/server.py)."""

from __future__ import annotations

from aiohttp import web

from bot.app import Runtime
from bot.web.broadcast_views import BroadcastViews
from bot.web.followup_views import FollowUpViews
from bot.web.login_views import LoginViews
from bot.web.nomination_views import NominationViews
from bot.web.overview_views import OverviewViews
from bot.web.people_views import PeopleViews
from bot.web.poll_views import PollViews
from bot.web.question_views import QuestionViews
from bot.web.redaction_views import RedactionViews
from bot.web.render import STATIC
from bot.web.report_views import ReportViews
from bot.web.site import Site
from bot.web.survey_views import SurveyViews


def web_routes(runtime: Runtime) -> list[web.AbstractRouteDef]:
    """/admin/… and /static/…; the web chat's /chat/… come with its channel mount."""
    site = Site(runtime.engine, read_db=runtime.read_db)
    routes: list[web.AbstractRouteDef] = []
    views = (
        LoginViews(site),
        OverviewViews(site),
        PollViews(site),
        QuestionViews(site),
        ReportViews(site),
        RedactionViews(site),
        NominationViews(site),
        BroadcastViews(site),
        PeopleViews(site),
        SurveyViews(site),
        FollowUpViews(site),
    )
    for group in views:
        routes += group.routes()
    routes.append(web.static("/static", STATIC, append_version=True))
    return routes
