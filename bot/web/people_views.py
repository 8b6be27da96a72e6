"""People: the roster (search, CSV upload), roles, and personal web chat invitations.

The roster upload uses the CLI's own check and import (bot/roster.py): every line is checked
first, and a file with any invalid line imports nothing; the page lists each bad line. Roles,
the roster and web chat invitations are an admin's job (a role gives access to unblurred
photos and to this dashboard; an invitation lets its holder chat as the person); OR members
may look people up. An invitation goes to the person through their own channel and only a
person without one gets a printed invitation (bot/usecases/access.py).
"""

from __future__ import annotations

from aiohttp import web

from bot.roster import RosterInvalid, check_roster, import_roster, problem_text
from bot.text import ascii_int
from bot.usecases import Refused
from bot.usecases.access import INVITE_TTL, VOUCHED_CHANNELS, invite
from bot.usecases.people import set_roles
from bot.web import queries
from bot.web.auth import Visitor
from bot.web.forms import read_upload
from bot.web.render import see_other
from bot.web.site import Site, int_param
from storage.audit import audit
from storage.people import ROLES, People

PAGE = 50
ROSTER_MAX_BYTES = 10 * 1024 * 1024


class PeopleViews:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[web.RouteDef]:
        guard = self.site.guard
        return [
            web.get("/admin/people", guard("or", self.list)),
            web.post("/admin/people/roster", guard("admin", self.upload, check_form=False)),
            web.get("/admin/people/{id}", guard("or", self.detail)),
            web.post("/admin/people/{id}/roles", guard("admin", self.roles)),
            web.post("/admin/people/{id}/invite", guard("admin", self.invite)),
        ]

    async def list(
        self,
        request: web.Request,
        visitor: Visitor,
        *,
        status: int = 200,
        roster_errors: list[tuple[int, str]] | None = None,
        roster_problem: str | None = None,
        imported: tuple[int, int] | None = None,
    ) -> web.Response:
        query = request.query.get("q", "").strip()[:100]
        raw = request.query.get("offset", "0")
        offset = ascii_int(raw, high=10**8) or 0
        async with self.site.db.transaction(read_only=True) as session:
            people, more = await queries.people_page(session, query, offset=offset, limit=PAGE)
            ids = [p.id for p in people]
            roles = await queries.roles_of(session, ids)
            channels = await queries.channels_of(session, ids)
        return self.site.render(
            "people.html",
            visitor,
            status=status,
            nav="people",
            query=query,
            people=people,
            roles=roles,
            channels=channels,
            offset=offset,
            next_offset=offset + PAGE if more else None,
            prev_offset=max(0, offset - PAGE) if offset else None,
            roster_errors=roster_errors or [],
            roster_problem=roster_problem,
            imported=imported,
        )

    async def upload(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        upload = await read_upload(
            request,
            self.site.settings,
            visitor.token,
            file_field="roster",
            max_bytes=ROSTER_MAX_BYTES,
        )
        if not upload.csrf_ok:
            return self.site.refuse(request, visitor)
        if upload.too_large:
            return await self.list(request, visitor, status=400, roster_problem="too_large")
        if upload.data is None:
            return await self.list(request, visitor, status=400, roster_problem="missing")
        try:
            text = upload.data.decode("utf-8")
        except UnicodeDecodeError:
            return await self.list(request, visitor, status=400, roster_problem="not_utf8")
        check = check_roster(text)
        try:
            async with self.site.db.transaction() as session:
                report = await import_roster(session, check)
                await audit(
                    session,
                    "roster.uploaded",
                    actor_id=visitor.person.id,
                    created=report.created,
                    updated=report.updated,
                )
        except RosterInvalid as exc:
            said = [(line, problem_text(visitor.lang, m)) for line, m in exc.errors]
            return await self.list(request, visitor, status=400, roster_errors=said)
        return await self.list(request, visitor, imported=(report.created, report.updated))

    async def detail(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        person_id = int_param(request, "id")
        async with self.site.db.transaction(read_only=True) as session:
            person = await People(session).get(person_id)
            if person is None or person.forgotten_at is not None:
                return self.site.refuse(request, visitor, 404)
            roles = await People(session).roles(person_id)
            channels = (await queries.channels_of(session, [person_id])).get(person_id, set())
        own = sorted(channels & set(VOUCHED_CHANNELS))
        return self.site.render(
            "person.html",
            visitor,
            nav="people",
            person=person,
            roles=roles,
            all_roles=ROLES,
            channels=sorted(channels),
            own_channels=own,
            saved=request.query.get("saved") == "1",
            invited=_channel(request.query.get("invited")),
            refused=request.query.get("refused") == "1",
        )

    async def roles(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        person_id = int_param(request, "id")
        form = await request.post()
        wanted = {r for r in ROLES if form.get(f"role_{r}") == "1"}
        try:
            async with self.site.db.transaction() as session:
                services = self.site.engine.services(session)
                await set_roles(services, person_id, wanted, actor_id=visitor.person.id)
        except Refused as refused:
            if refused.key == "people.own_admin":
                raise see_other(f"/admin/people/{person_id}?refused=1") from None
            return self.site.refuse(request, visitor, 404)
        raise see_other(f"/admin/people/{person_id}?saved=1")

    async def invite(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        """Send the person their invitation, or, when they have no channel, one to print."""
        person_id = int_param(request, "id")
        site = self.site
        async with site.db.transaction() as session:
            person = await People(session).get(person_id)
            if person is None or person.forgotten_at is not None:
                return site.refuse(request, visitor, 404)
            sent = await invite(
                session,
                person,
                actor_id=visitor.person.id,
                now=site.now(),
                base_url=site.settings.public_url,
                timezone=site.timezone,
                via="dashboard",
            )
        site.engine.outbox_changed.set()
        if sent.url is None:
            raise see_other(f"/admin/people/{person_id}?invited={sent.channel}")
        return site.render(
            "invite.html",
            visitor,
            nav="people",
            person=person,
            url=sent.url,
            days=INVITE_TTL.days,
        )


def _channel(value: str | None) -> str | None:
    """A channel named in the query string, only when it is one invitations go to."""
    return value if value in VOUCHED_CHANNELS else None
