""" "Wat doet de OR ermee?" on the dashboard: the form under a closed poll or question, and
once sent, what was sent with its reach and feedback (a follow-up is a broadcast).

The poll and question pages call `followup_context` for what the partial template
followup_part.html shows; the form posts here, to bot/usecases/followups.py like the CLI.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import t
from bot.usecases import Refused, broadcasts, followups
from bot.web.auth import Visitor
from bot.web.render import see_other
from bot.web.site import Site, int_param
from storage.broadcast_status import broadcast_status
from storage.broadcasts import Broadcasts
from storage.followups import FollowUps

PAGES = {"poll": "/admin/polls/{id}", "question": "/admin/questions/{id}"}
OUTCOMES = {
    "followup.sent": "sent",
    followups.TEXT_LENGTH: "text_length",
    followups.ALREADY: "already",
    followups.NOT_CLOSED: "not_closed",
    followups.OR_ONLY: "or_only",
    broadcasts.NOBODY: "nobody",
}


async def followup_context(
    session: AsyncSession, kind: str, subject_id: int, *, closed: bool
) -> dict[str, Any]:
    """What followup_part.html needs: the subject, whether it is closed, and the follow-up
    sent (its text and reach) if there is one."""
    context: dict[str, Any] = {"kind": kind, "id": subject_id, "closed": closed, "sent": None}
    found = await FollowUps(session).of(kind, subject_id)
    if found is not None:
        broadcast = await Broadcasts(session).get(found.broadcast_id)
        status = await broadcast_status(session, found.broadcast_id)
        context["sent"] = {
            "broadcast_id": found.broadcast_id,
            "text": broadcast.text if broadcast else "",
            "status": status,
        }
    return context


class FollowUpViews:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[web.RouteDef]:
        guard = self.site.guard
        return [
            web.post("/admin/polls/{id}/follow-up", guard("or", self.poll)),
            web.post("/admin/questions/{id}/follow-up", guard("or", self.question)),
        ]

    async def poll(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        return await self._send(request, visitor, "poll")

    async def question(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        return await self._send(request, visitor, "question")

    async def _send(self, request: web.Request, visitor: Visitor, kind: str) -> web.StreamResponse:
        """Read the subject (and a question's themes) without holding the write lock, then
        send in a writing transaction."""
        subject_id = int_param(request, "id")
        form = await request.post()
        text = str(form.get("text", ""))
        actor = broadcasts.Actor(visitor.person.id, visitor.roles, via="web")
        page = PAGES[kind].format(id=subject_id)
        try:
            async with self.site.db.transaction(read_only=True) as session:
                read = followups.SUBJECTS[kind]
                subject = await read(self.site.engine.services(session), subject_id)
            async with self.site.db.transaction() as session:
                sent = await followups.send(
                    self.site.engine.services(session), subject, text, actor
                )
        except Refused as refused:
            if refused.key == followups.NOT_FOUND:
                return self.site.refuse(request, visitor, 404)
            # Back to the page, which says why (by the refusal's name: never text in a URL).
            raise see_other(f"{page}?followup={OUTCOMES.get(refused.key, 'refused')}") from None
        if sent.wake_worker:
            self.site.engine.outbox_changed.set()
        raise see_other(f"{page}?followup=sent")


def outcome_message(request: web.Request, lang: str) -> str | None:
    """The notice after a post: sent, or why not (the page reads ?followup=…)."""
    outcome = request.query.get("followup")
    key = {v: k for k, v in OUTCOMES.items()}.get(outcome or "")
    return t(lang, key, max=followups.MAX_TEXT, length=0) if key else None
