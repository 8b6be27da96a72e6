"""Nomination campaigns on the dashboard: the ranking and the nominees' answers.

Who nominated whom is shown only for named campaigns (storage/nominations.py leaves the names
out of anonymous ones). OR members open and close a campaign here through the same use case
as the chat and the CLI (bot/usecases/nominations.py): the same limits, announcement and
closing; this module only reads the form and shows the refusals per field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.usecases import Refused
from bot.usecases.nominations import (
    MAX_PER_PERSON,
    MAX_TITLE,
    RoundDraft,
    close_round,
    open_round,
    problems,
)
from bot.web.auth import Visitor
from bot.web.render import see_other
from bot.web.site import Site, int_param
from storage.nominations import Nominations

LIST_LIMIT = 50


def parse_campaign_form(
    raw: Mapping[str, Any], *, timezone: ZoneInfo
) -> tuple[dict[str, Any], RoundDraft]:
    """(what was typed, to show again; the round it asks for). A closing time without an
    offset is local time; one that cannot be read is None (the use case refuses it)."""

    def text(name: str, limit: int) -> str:
        value = raw.get(name)
        return value.strip()[:limit] if isinstance(value, str) else ""

    form: dict[str, Any] = {
        "title": text("title", MAX_TITLE * 2),
        "closes": text("closes", 40),
        "max": text("max", 6),
        "anonymous": raw.get("anonymous") == "1",
    }
    try:
        closes: datetime | None = datetime.fromisoformat(form["closes"])
    except ValueError:
        closes = None
    if closes is not None and closes.tzinfo is None:
        closes = closes.replace(tzinfo=timezone)
    draft = RoundDraft(form["title"], closes, form["anonymous"], form["max"] or None)
    return form, draft


def field_errors(refusals: list[Refused]) -> dict[str, str]:
    """The form's error text per field (web.campaign.error_<field>)."""
    return {str(r.params["field"]): f"web.campaign.error_{r.params['field']}" for r in refusals}


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
        form, draft = parse_campaign_form(await request.post(), timezone=self.site.timezone)
        if refusals := problems(draft, self.site.now()):
            return await self.list(request, visitor, form=form, errors=field_errors(refusals))
        try:
            async with self.site.db.transaction() as session:
                services = self.site.engine.services(session)
                opened = await open_round(services, draft, actor_id=visitor.person.id)
        except Refused as refused:
            return await self.list(request, visitor, form=form, errors=field_errors([refused]))
        if opened.wakes_delivery:
            self.site.engine.outbox_changed.set()
        raise see_other(f"/admin/nominations/{opened.campaign.id}")

    async def close(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        campaign_id = int_param(request, "id")
        try:
            async with self.site.db.transaction() as session:
                services = self.site.engine.services(session)
                closed = await close_round(services, campaign_id, actor_id=visitor.person.id)
        except Refused:
            return self.site.refuse(request, visitor, 404)
        if closed.wakes_delivery:
            self.site.engine.outbox_changed.set()
        problem = "" if closed.closed else "?problem=closed"
        raise see_other(f"/admin/nominations/{campaign_id}{problem}")

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
