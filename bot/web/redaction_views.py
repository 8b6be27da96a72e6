"""Manual redaction of a report photo: a moderator adds blur rectangles or removes one.

The processed photo is never edited in place: every change renders the ORIGINAL again through
the photo pipeline with the whole current set of rectangles (bot/photo_redaction.py `redact`), so
removing a rectangle (also an automatically found face) brings back exactly the pixels the
original has, and adding one blurs as hard as a face. Until a moderator changes anything, the
set is read back from the photo: the faces that the pipeline blurred.

Only while the report is not published and not closed (publishing sends the photo to the OR)
and only while the original is kept (it is deleted after the retention period). Moderators
and admins only; every change is in the audit log; the page shows the processed photo, never
the original.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot import photo_redaction, photos
from bot.text import ascii_int
from bot.web.auth import Visitor
from bot.web.media import media_store
from bot.web.render import see_other
from bot.web.site import Site, int_param
from storage.audit import audit
from storage.media import PROCESSED, MediaError
from storage.models import Report, ReportPhoto
from storage.redaction import FACE, MODERATOR, Redactions, Region
from storage.reports import FORWARDED, NEW, Reports

EDITABLE = frozenset({NEW, FORWARDED})
MAX_REGIONS = 40
MIN_SIDE = 4
FIELDS = ("x", "y", "width", "height")


def parse_region(
    form: Any, width: int, height: int
) -> tuple[Region | None, dict[str, str], dict[str, str]]:
    """(the rectangle, errors per field as catalogue keys, what was typed)."""
    typed = {name: str(form.get(name) or "").strip()[:12] for name in FIELDS}
    errors: dict[str, str] = {}
    values: dict[str, int] = {}
    for name, text in typed.items():
        number = ascii_int(text)  # also refuses "-5", "1.5" and "²"
        if number is None:
            errors[name] = "web.redact.error_number"
        else:
            values[name] = number
    if errors:
        return None, errors, typed
    x, y, w, h = (values[name] for name in FIELDS)
    if w < MIN_SIDE:
        errors["width"] = "web.redact.error_small"
    if h < MIN_SIDE:
        errors["height"] = "web.redact.error_small"
    if x >= width or x + w > width:
        errors["x" if x >= width else "width"] = "web.redact.error_outside_x"
    if y >= height or y + h > height:
        errors["y" if y >= height else "height"] = "web.redact.error_outside_y"
    return (None if errors else Region(x, y, w, h, MODERATOR)), errors, typed


class RedactionViews:
    def __init__(self, site: Site) -> None:
        self.site = site

    def routes(self) -> list[web.RouteDef]:
        guard = self.site.guard
        base = "/admin/reports/{id}/photos/{photo}"
        return [
            web.get(base, guard("moderate", self.page)),
            web.post(base + "/regions", guard("moderate", self.add)),
            web.post(base + "/regions/remove", guard("moderate", self.remove)),
        ]

    async def _load(self, request: web.Request) -> tuple[Report, ReportPhoto, list[Region] | None]:
        report_id, photo_id = int_param(request, "id"), int_param(request, "photo")
        async with self.site.db.transaction(read_only=True) as session:
            report = await Reports(session).get(report_id)
            photo = await session.get(ReportPhoto, photo_id, populate_existing=True)
            if report is None or photo is None or photo.report_id != report.id:
                raise web.HTTPNotFound()
            saved = await Redactions(session).regions(photo.id)
        return report, photo, saved

    def _original(self, photo: ReportPhoto) -> bytes | None:
        if photo.original_id is None:
            return None
        try:
            return media_store(self.site.engine).read(photo.original_id)
        except MediaError:
            return None

    async def _current(self, photo: ReportPhoto, saved: list[Region] | None) -> list[Region]:
        """The saved set, or (never changed yet) the faces the pipeline blurred."""
        if saved is not None:
            return saved
        original = self._original(photo)
        if original is None:
            return []
        try:
            processed = media_store(self.site.engine).read(photo.processed_id)
            faces = await asyncio.to_thread(
                photo_redaction.blurred_face_regions,
                original,
                processed,
                max_bytes=self.site.settings.media_max_bytes,
            )
        except (MediaError, photos.PhotoRefused, OSError):
            return []
        return [Region(f.x, f.y, f.w, f.h, FACE) for f in faces]

    async def page(
        self,
        request: web.Request,
        visitor: Visitor,
        *,
        status: int = 200,
        errors: dict[str, str] | None = None,
        typed: dict[str, str] | None = None,
        problem: str | None = None,
    ) -> web.StreamResponse:
        report, photo, saved = await self._load(request)
        regions = await self._current(photo, saved)
        store = media_store(self.site.engine)
        kept = photo.original_id is not None and store.exists(photo.original_id)
        return self.site.render(
            "redact.html",
            visitor,
            status=status,
            nav="reports",
            report=report,
            photo=photo,
            regions=regions,
            can_edit=kept and report.status in EDITABLE,
            original_kept=kept,
            editable_status=report.status in EDITABLE,
            errors=errors or {},
            typed=typed or {},
            problem=problem or request.query.get("problem"),
            min_side=MIN_SIDE,
        )

    async def add(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        _report, photo, _saved = await self._load(request)
        form = await request.post()
        region, errors, typed = parse_region(form, photo.width, photo.height)
        if region is None:
            return await self.page(request, visitor, status=400, errors=errors, typed=typed)

        def change(current: list[Region]) -> list[Region] | None:
            return None if len(current) >= MAX_REGIONS else [*current, region]

        return await self._apply(request, visitor, form, change, "added", region)

    async def remove(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        form = await request.post()
        raw = str(form.get("index") or "")
        index = ascii_int(raw, high=999)
        index = -1 if index is None else index
        removed: list[Region] = []

        def change(current: list[Region]) -> list[Region] | None:
            if not 0 <= index < len(current):
                return None
            removed.append(current[index])
            return current[:index] + current[index + 1 :]

        return await self._apply(request, visitor, form, change, "removed", removed)

    async def _apply(
        self,
        request: web.Request,
        visitor: Visitor,
        form: Any,
        change: Callable[[list[Region]], list[Region] | None],
        verb: str,
        what: Region | list[Region],
    ) -> web.StreamResponse:
        """Render the original with the changed set, store it, switch the photo to it."""
        report, photo, saved = await self._load(request)
        if report.status not in EDITABLE:
            return await self.page(request, visitor, status=409, problem="published")
        original = self._original(photo)
        if original is None:
            return await self.page(request, visitor, status=409, problem="no_original")
        if form.get("version") != photo.processed_id:
            return await self.page(request, visitor, status=409, problem="conflict")
        regions = change(await self._current(photo, saved))
        if regions is None:
            return await self.page(request, visitor, status=400, problem=f"{verb}_invalid")
        done = await asyncio.to_thread(
            photo_redaction.redact,
            original,
            [photos.Face(r.x, r.y, r.w, r.h) for r in regions],
            max_bytes=self.site.settings.media_max_bytes,
        )
        processed_id = media_store(self.site.engine).put(done.jpeg, PROCESSED, now=self.site.now())
        region = what if isinstance(what, Region) else what[0]
        async with self.site.db.transaction() as session:
            saved_ok = await Redactions(session).save(
                photo,
                regions,
                expected=photo.processed_id,
                processed_id=processed_id,
                actor_id=visitor.person.id,
                now=self.site.now(),
            )
            if saved_ok:
                await audit(
                    session,
                    f"report.redaction_{verb}",
                    actor_id=visitor.person.id,
                    subject=f"report:{report.id}",
                    photo=photo.id,
                    region=[region.x, region.y, region.w, region.h],
                    source=region.source,
                )
        if not saved_ok:
            return await self.page(request, visitor, status=409, problem="conflict")
        raise see_other(f"/admin/reports/{report.id}/photos/{photo.id}")
