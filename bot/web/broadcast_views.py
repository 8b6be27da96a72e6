"""Broadcasts on the dashboard: compose, the list with reach and reactions, a detail page with
the progress and the replies, and cancelling.

A broadcast made here is made as the CLI and the chat make it, by the use case
(bot/usecases/broadcasts.py): its rules (text length, a known channel, a time not in the past,
somebody on the roster who matches) come back as errors of the form's fields; this page only
reads the form (the audience syntax of Audience.parse, the time). Sent "now", the first batch
is queued in this request's transaction and the use case says to wake the delivery worker;
the scheduler tick queues the rest and starts a later one when it is due. Cancelling is the
use case's too, with its rule: only the author or an admin.

Replies carry names, so every page here is for OR members and admins only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.usecases import Refused, broadcasts
from bot.usecases.broadcasts import MAX_TEXT
from bot.web.auth import Visitor
from bot.web.render import see_other
from bot.web.site import Site, int_param
from storage.broadcast_responses import Responses
from storage.broadcast_status import broadcast_status
from storage.broadcasts import CHANNELS, DONE, SCHEDULED, SENDING_STATUS, Broadcasts, CancelOutcome
from storage.people import Audience, People

LIST_LIMIT = 50
# The use case's refusals, as errors of the form's fields.
REFUSED = {
    broadcasts.TEXT_LENGTH: ("text", "web.broadcast.error_text"),
    broadcasts.TEXT_EN_LENGTH: ("text_en", "web.broadcast.error_text"),
    broadcasts.UNKNOWN_CHANNEL: ("channel", "web.broadcast.error_channel"),
    broadcasts.IN_THE_PAST: ("at", "web.broadcast.error_at_past"),
    broadcasts.NOBODY: ("audience", "web.broadcast.error_nobody"),
}
EMPTY_FORM: dict[str, Any] = {
    "text": "",
    "text_en": "",
    "audience": "",
    "channel": "",
    "when": "now",
    "at": "",
    "acknowledge": False,
}


def parse_broadcast_form(
    raw: Mapping[str, Any], *, now: datetime, timezone: ZoneInfo
) -> tuple[dict[str, Any], dict[str, str]]:
    """(what was typed + parsed values, errors per field as catalogue keys).

    Only what the form's syntax decides (an audience, a time); the rules are the use case's."""

    def text(name: str, limit: int) -> str:
        value = raw.get(name)
        return value.strip()[:limit] if isinstance(value, str) else ""

    form: dict[str, Any] = {
        "text": text("text", MAX_TEXT * 2),
        "text_en": text("text_en", MAX_TEXT * 2),
        "audience": text("audience", 300),
        "channel": text("channel", 20),
        "when": "at" if raw.get("when") == "at" else "now",
        "at": text("at", 40),
        "acknowledge": raw.get("acknowledge") == "1",
        "scheduled_at": None,
    }
    errors: dict[str, str] = {}
    try:
        form["segment"] = Audience.parse(form["audience"])
    except ValueError:
        errors["audience"] = "web.broadcast.error_audience"
    if form["when"] == "at":
        try:
            at = datetime.fromisoformat(form["at"])
        except ValueError:
            errors["at"] = "web.broadcast.error_at"
        else:
            form["scheduled_at"] = at if at.tzinfo else at.replace(tzinfo=timezone)
    return form, errors


class BroadcastViews:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[web.RouteDef]:
        guard = self.site.guard
        return [
            web.get("/admin/broadcasts", guard("or", self.list)),
            web.post("/admin/broadcasts", guard("or", self.create)),
            web.get("/admin/broadcasts/{id}", guard("or", self.detail)),
            web.post("/admin/broadcasts/{id}/cancel", guard("or", self.cancel)),
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
            rows = []
            for b in await Broadcasts(session).recent(limit=LIST_LIMIT):
                rows.append({"broadcast": b, "status": await broadcast_status(session, b.id)})
            people = People(session)
            segments = [("department", d) for d in await people.departments()]
            segments += [("location", loc) for loc in await people.locations()]
        return self.site.render(
            "broadcasts.html",
            visitor,
            status=400 if errors else 200,
            nav="broadcasts",
            rows=rows,
            form=form or EMPTY_FORM,
            errors=errors or {},
            segments=segments,
            channels=CHANNELS,
            limits={"max": MAX_TEXT},
            audience_label=audience_label,
        )

    async def create(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        form, errors = parse_broadcast_form(
            await request.post(), now=self.site.now(), timezone=self.site.timezone
        )
        if errors:
            return await self.list(request, visitor, form=form, errors=errors)
        draft = broadcasts.Draft(
            text=form["text"],
            text_en=form["text_en"] or None,
            audience=form["segment"],
            channel=form["channel"] or None,
            at=form["scheduled_at"],
            acknowledge=form["acknowledge"],
        )
        actor = broadcasts.Actor(visitor.person.id, visitor.roles, via="web")
        try:
            async with self.site.db.transaction() as session:
                services = self.site.engine.services(session)
                saved = await broadcasts.create(services, draft, actor)
        except Refused as refused:
            field, key = REFUSED[refused.key]
            return await self.list(request, visitor, form=form, errors={field: key})
        if saved.wake_worker:
            self.site.engine.outbox_changed.set()
        raise see_other(f"/admin/broadcasts/{saved.id}")

    async def detail(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        broadcast_id = int_param(request, "id")
        async with self.site.db.transaction(read_only=True) as session:
            broadcast = await Broadcasts(session).get(broadcast_id)
            found = await broadcast_status(session, broadcast_id)
            if broadcast is None or found is None:
                return self.site.refuse(request, visitor, 404)
            replies = await Responses(session).replies(broadcast_id)
            services = self.site.engine.services(session)
            ids = {r.person_id for r in replies if r.person_id}
            people = {p.id: p for p in await services.people_by_ids(ids)} if ids else {}
            creator = await People(session).get(broadcast.created_by or 0)
        total = max(found.recipients, found.audience_size)
        cancellable = broadcast.status in (SCHEDULED, SENDING_STATUS) or (
            broadcast.status == DONE and not found.done
        )
        return self.site.render(
            "broadcast.html",
            visitor,
            nav="broadcasts",
            broadcast=broadcast,
            figures=found,
            total=total,
            percent=round(100 * found.processed / total) if total else 0,
            replies=[{"reply": r, "person": people.get(r.person_id or 0)} for r in replies],
            creator=creator,
            audience=audience_label(broadcast.audience),
            cancellable=cancellable,
            problem=request.query.get("problem"),
            withdrawn=request.query.get("withdrawn"),
        )

    async def cancel(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        broadcast_id = int_param(request, "id")
        actor = broadcasts.Actor(visitor.person.id, visitor.roles, via="web")
        try:
            async with self.site.db.transaction() as session:
                services = self.site.engine.services(session)
                outcome, withdrawn = await broadcasts.cancel(services, broadcast_id, actor)
        except Refused:
            return self.site.refuse(request, visitor, 403)
        if outcome is CancelOutcome.NOT_FOUND:
            return self.site.refuse(request, visitor, 404)
        if outcome is CancelOutcome.CANCELLED:
            raise see_other(f"/admin/broadcasts/{broadcast_id}?withdrawn={withdrawn}")
        raise see_other(f"/admin/broadcasts/{broadcast_id}?problem={outcome.value}")


def audience_label(audience: dict[str, Any] | None) -> tuple[str, dict[str, str]]:
    """(catalogue key, parameters) describing a stored audience, for the templates."""
    segment = Audience.from_dict(audience)
    if segment.department:
        return "create.department", {"name": segment.department}
    if segment.location:
        return "create.location", {"name": segment.location}
    return "create.everyone", {}
