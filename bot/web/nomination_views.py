"""Nomination campaigns on the dashboard: the ranking and the nominees' answers.

Who nominated whom is shown only for named campaigns (storage/nominations.py leaves the names
out of anonymous ones). Campaigns are opened in the chat or with the CLI.
"""

from __future__ import annotations

from aiohttp import web

from bot.web.auth import Visitor
from bot.web.site import Site, int_param
from storage.nominations import Nominations

LIST_LIMIT = 50


class NominationViews:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[web.RouteDef]:
        guard = self.site.guard
        return [
            web.get("/admin/nominations", guard("or", self.list)),
            web.get("/admin/nominations/{id}", guard("or", self.detail)),
        ]

    async def list(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        async with self.site.db.transaction(read_only=True) as session:
            nominations = Nominations(session)
            campaigns = await nominations.recent(limit=LIST_LIMIT)
            rows = [{"campaign": c, "count": await nominations.count(c.id)} for c in campaigns]
        return self.site.render("nominations.html", visitor, nav="nominations", rows=rows)

    async def detail(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        campaign_id = int_param(request, "id")
        async with self.site.db.transaction(read_only=True) as session:
            nominations = Nominations(session)
            campaign = await nominations.get(campaign_id)
            if campaign is None:
                return self.site.refuse(request, visitor, 404)
            ranked = await nominations.ranked(campaign)
        return self.site.render(
            "nomination.html", visitor, nav="nominations", campaign=campaign, ranked=ranked
        )
