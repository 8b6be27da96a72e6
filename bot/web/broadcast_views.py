"""Broadcasts on the dashboard: compose, the list with reach and reactions, a detail page with
the progress and the replies, and cancelling.

A broadcast made here is made as the CLI and the chat make it: the same checks (text length
dialogs.broadcast_create.MAX_TEXT, a known channel, the audience syntax of Audience.parse, a
time not in the past, somebody on the roster who matches), Broadcasts.create, and
dialogs.broadcast.send_now for "now" — which queues the first batch in this request's
transaction, as the chat does; the scheduler tick queues the rest and starts a later one when
it is due. Cancelling is Broadcasts.cancel, as `achterban broadcast cancel`.

Replies carry names, so every page here is for OR members and admins only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.web.auth import Visitor
from bot.web.render import see_other
from bot.web.site import Site, int_param
from dialogs import broadcast as broadcast_jobs
from dialogs.broadcast_create import MAX_TEXT
from storage.broadcast_responses import Responses
from storage.broadcast_status import broadcast_status
from storage.broadcasts import CHANNELS, DONE, SCHEDULED, SENDING_STATUS, Broadcasts, CancelOutcome
from storage.people import Audience, People

LIST_LIMIT = 50
# As `achterban broadcast send --at`: a time a minute ago still counts as now.
PAST_GRACE = timedelta(minutes=1)
EMPTY_FORM: dict[str, Any] = {
    "text": "",
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

    The checks that need the database (does anybody match?) are made by the caller."""

    def text(name: str, limit: int) -> str:
        value = raw.get(name)
        return value.strip()[:limit] if isinstance(value, str) else ""

    form: dict[str, Any] = {
        "text": text("text", MAX_TEXT * 2),
        "audience": text("audience", 300),
        "channel": text("channel", 20),
        "when": "at" if raw.get("when") == "at" else "now",
        "at": text("at", 40),
        "acknowledge": raw.get("acknowledge") == "1",
        "scheduled_at": None,
    }
    errors: dict[str, str] = {}
    if not form["text"] or len(form["text"]) > MAX_TEXT:
        errors["text"] = "web.broadcast.error_text"
    if form["channel"] and form["channel"] not in CHANNELS:
        errors["channel"] = "web.broadcast.error_channel"
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
            at = at if at.tzinfo else at.replace(tzinfo=timezone)
            if at < now - PAST_GRACE:
                errors["at"] = "web.broadcast.error_at_past"
            else:
                form["scheduled_at"] = at
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
        async with self.site.db.transaction() as session:
            services = self.site.engine.services(session)
            broadcasts = Broadcasts(session)
            channel = form["channel"] or None
            if not await broadcasts.estimate(form["segment"], channel):
                created = None
            else:
                created = await broadcasts.create(
                    text=form["text"],
                    image_id=None,
                    audience=form["segment"],
                    channel=channel,
                    scheduled_at=form["scheduled_at"] or services.now,
                    acknowledge=form["acknowledge"],
                    remind_after=broadcast_jobs.DEFAULT_REMIND_AFTER,
                    created_by=visitor.person.id,
                    now=services.now,
                )
                await services.audit(
                    "broadcast.created",
                    actor_id=visitor.person.id,
                    subject=f"broadcast:{created.id}",
                    via="web",
                )
                if created.scheduled_at <= services.now:
                    await broadcast_jobs.send_now(services, created.id, actor_id=visitor.person.id)
        if created is None:
            nobody = {"audience": "web.broadcast.error_nobody"}
            return await self.list(request, visitor, form=form, errors=nobody)
        self.site.engine.outbox_changed.set()
        raise see_other(f"/admin/broadcasts/{created.id}")

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
        async with self.site.db.transaction() as session:
            services = self.site.engine.services(session)
            outcome, withdrawn = await Broadcasts(session).cancel(broadcast_id, services.now)
            if outcome is CancelOutcome.CANCELLED:
                await services.audit(
                    "broadcast.cancelled",
                    actor_id=visitor.person.id,
                    subject=f"broadcast:{broadcast_id}",
                    withdrawn=withdrawn,
                    via="web",
                )
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
