"""Nomination campaigns on the dashboard: the ranking and the nominees' answers.

Who nominated whom is shown only for named campaigns (storage/nominations.py leaves the names
out of anonymous ones). OR members open a campaign here as in the chat or with the CLI: the
same limits (title length, closing in the future, 1..MAX_PER_PERSON per person), the same
announcement to everyone (dialogs.nomination_campaign.announce) and the same closing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.text import ascii_int
from bot.web.auth import Visitor
from bot.web.render import see_other
from bot.web.site import Site, int_param
from dialogs.nomination_campaign import MAX_TITLE, announce, close_campaign
from storage.nominations import Nominations

LIST_LIMIT = 50
MAX_PER_PERSON = 50  # as the chat dialog and `achterban nominations open --max-per-person`


def parse_campaign_form(
    raw: Mapping[str, Any], *, now: datetime, timezone: ZoneInfo
) -> tuple[dict[str, Any], dict[str, str]]:
    """(what was typed + parsed values, errors per field as catalogue keys)."""

    def text(name: str, limit: int) -> str:
        value = raw.get(name)
        return value.strip()[:limit] if isinstance(value, str) else ""

    form: dict[str, Any] = {
        "title": text("title", MAX_TITLE * 2),
        "closes": text("closes", 40),
        "max": text("max", 6),
        "anonymous": raw.get("anonymous") == "1",
    }
    errors: dict[str, str] = {}
    if not form["title"] or len(form["title"]) > MAX_TITLE:
        errors["title"] = "web.campaign.error_title"
    try:
        closes = datetime.fromisoformat(form["closes"])
    except ValueError:
        errors["closes"] = "web.campaign.error_closes"
    else:
        closes = closes if closes.tzinfo else closes.replace(tzinfo=timezone)
        if closes <= now:
            errors["closes"] = "web.campaign.error_closes"
        form["closes_at"] = closes
    most = ascii_int(form["max"], low=1, high=MAX_PER_PERSON) if form["max"] else None
    if form["max"] and most is None:
        errors["max"] = "web.campaign.error_max"
    form["max_per_person"] = most
    return form, errors


class NominationViews:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[web.RouteDef]:
        guard = self.site.guard
        return [
            web.get("/admin/nominations", guard("or", self.list)),
            web.post("/admin/nominations", guard("or", self.create)),
            web.get("/admin/nominations/{id}", guard("or", self.detail)),
            web.post("/admin/nominations/{id}/close", guard("or", self.close)),
        ]

    async def list(
        self,
        request: web.Request,
        visitor: Visitor,
        *,
        form: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
    ) -> web.StreamResponse:
        async with self.site.db.transaction(read_only=True) as session:
            nominations = Nominations(session)
            campaigns = await nominations.recent(limit=LIST_LIMIT)
            rows = [{"campaign": c, "count": await nominations.count(c.id)} for c in campaigns]
        return self.site.render(
            "nominations.html",
            visitor,
            status=400 if errors else 200,
            nav="nominations",
            rows=rows,
            form=form or {"title": "", "closes": "", "max": "", "anonymous": False},
            errors=errors or {},
            limits={"max": MAX_TITLE, "max_per_person": MAX_PER_PERSON},
        )

    async def create(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        form, errors = parse_campaign_form(
            await request.post(), now=self.site.now(), timezone=self.site.timezone
        )
        if errors:
            return await self.list(request, visitor, form=form, errors=errors)
        async with self.site.db.transaction() as session:
            services = self.site.engine.services(session)
            campaign = await Nominations(session).create_campaign(
                title=form["title"],
                closes_at=form["closes_at"],
                anonymous=form["anonymous"],
                max_per_person=form["max_per_person"],
                created_by=visitor.person.id,
                now=services.now,
            )
            await announce(services, campaign, visitor.person.id)
        self.site.engine.outbox_changed.set()
        raise see_other(f"/admin/nominations/{campaign.id}")

    async def close(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        campaign_id = int_param(request, "id")
        async with self.site.db.transaction() as session:
            services = self.site.engine.services(session)
            campaign = await Nominations(session).get(campaign_id)
            if campaign is None:
                return self.site.refuse(request, visitor, 404)
            closed = await close_campaign(services, campaign, actor_id=visitor.person.id)
        self.site.engine.outbox_changed.set()
        raise see_other(f"/admin/nominations/{campaign_id}" + ("" if closed else "?problem=closed"))

    async def detail(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        campaign_id = int_param(request, "id")
        async with self.site.db.transaction(read_only=True) as session:
            nominations = Nominations(session)
            campaign = await nominations.get(campaign_id)
            if campaign is None:
                return self.site.refuse(request, visitor, 404)
            ranked = await nominations.ranked(campaign)
        return self.site.render(
            "nomination.html",
            visitor,
            nav="nominations",
            campaign=campaign,
            ranked=ranked,
            problem=request.query.get("problem"),
        )
