"""Manual redaction on the report page: rectangles re-render the processed photo from the
original (scikit-image's astronaut: a real face the Haar cascades find)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient
from PIL import Image, ImageChops, ImageFilter, ImageStat
from skimage import data as skdata
from sqlalchemy import select

from bot import photos
from bot.config import Settings
from bot.engine import Engine
from storage.media import ORIGINAL, PROCESSED, MediaStore
from storage.models import AuditEntry, ReportPhoto, utcnow
from storage.redaction import Redactions
from storage.reports import NAMED, NewPhoto, Reports
from tests.e2e.support import client_for, form_csrf, log_in
from tests.support.org import Org

# A patch of the rocket/sky area, well away from the face: plenty of detail to blur.
PATCH = (20, 300, 120, 120)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    async with client_for(settings) as client:
        yield client


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


async def _report(engine: Engine, org: Org, settings: Settings) -> tuple[int, ReportPhoto]:
    """A report whose photo went through the pipeline as the chat dialog does: faces blurred."""
    store = MediaStore(settings.data_dir / "media")
    original = _jpeg(Image.fromarray(skdata.astronaut()))
    done = photos.finish(photos.prepare(original))
    assert done.blurred >= 1
    photo = NewPhoto(
        store.put(done.jpeg, PROCESSED),
        store.put(original, ORIGINAL),
        done.faces,
        done.blurred,
        done.width,
        done.height,
    )
    async with engine.db.transaction() as session:
        report = await Reports(session).create(
            reporter_id=org.people["emp0"].id, privacy=NAMED, description="Gladde vloer",
            location="Hal 2", recognisable="yes", consent="none", now=utcnow(), photos=[photo],
        )  # fmt: skip
        return report.id, (await Reports(session).photos(report.id))[0]


def _detail(jpeg: bytes, box: tuple[int, int, int, int]) -> float:
    """Fine detail inside (x, y, w, h): the variance of the pixels around a smoothed copy
    (a blur keeps the broad colours, not the variance at this scale)."""
    x, y, w, h = box
    with Image.open(io.BytesIO(jpeg)) as im:
        region = im.convert("L").crop((x, y, x + w, y + h))
    smooth = region.filter(ImageFilter.GaussianBlur(3))
    return float(ImageStat.Stat(ImageChops.difference(region, smooth)).var[0])


async def _photo(engine: Engine, photo_id: int) -> ReportPhoto:
    async with engine.db.transaction(read_only=True) as session:
        found = await session.get(ReportPhoto, photo_id, populate_existing=True)
        assert found is not None
        return found


async def _served(client: TestClient, photo: ReportPhoto) -> bytes:
    response = await client.get(f"/admin/media/{photo.processed_id}")
    assert response.status == 200
    return await response.read()


async def test_add_blurs_and_removing_a_face_unblurs(
    client: TestClient, engine: Engine, org: Org, settings: Settings
) -> None:
    report_id, photo = await _report(engine, org, settings)
    await log_in(client, engine, org.people["mo"])
    page_url = f"/admin/reports/{report_id}/photos/{photo.id}"
    assert page_url in await (await client.get(f"/admin/reports/{report_id}")).text()
    page = await client.get(page_url)
    html = await page.text()
    assert page.status == 200 and 'class="region region-face"' in html
    assert photo.original_id is not None and photo.original_id not in html
    csrf = form_csrf(html)
    before = await _served(client, photo)
    sharp = _detail(before, PATCH)

    x, y, w, h = PATCH
    added = await client.post(
        f"{page_url}/regions",
        data={"csrf": csrf, "version": photo.processed_id, "x": x, "y": y, "width": w, "height": h},
    )
    assert added.status == 200 and 'class="region region-moderator"' in await added.text()
    changed = await _photo(engine, photo.id)
    assert changed.processed_id != photo.processed_id
    after = await _served(client, changed)
    assert _detail(after, PATCH) < 0.35 * sharp  # the patch lost most of its detail
    elsewhere = (380, 380, 120, 120)  # the rest stays as it was
    assert abs(_detail(after, elsewhere) - _detail(before, elsewhere)) < 0.1 * sharp

    async with engine.db.transaction(read_only=True) as session:
        regions = await Redactions(session).regions(photo.id)
    assert regions is not None
    face = next(r for r in regions if r.source == "face")
    face_box = (face.x, face.y, face.w, face.h)
    blurred_face = _detail(after, face_box)
    index = regions.index(face)
    removed = await client.post(
        f"{page_url}/regions/remove",
        data={"csrf": csrf, "version": changed.processed_id, "index": index},
    )
    assert removed.status == 200
    final = await _photo(engine, photo.id)
    unblurred = await _served(client, final)
    assert _detail(unblurred, face_box) > 2 * blurred_face  # the face is back, from the original
    assert _detail(unblurred, PATCH) < 0.35 * sharp  # the moderator's rectangle stays
    assert final.blurred == done_faces(regions) - 1

    # The old version of the form is stale now: nothing changes.
    stale = await client.post(
        f"{page_url}/regions/remove", data={"csrf": csrf, "version": photo.processed_id, "index": 0}
    )
    assert (
        stale.status == 409 and (await _photo(engine, photo.id)).processed_id == final.processed_id
    )
    async with engine.db.transaction(read_only=True) as session:
        actions = list((await session.execute(select(AuditEntry.action))).scalars())
    assert {"report.redaction_added", "report.redaction_removed"} <= set(actions)


def done_faces(regions: list) -> int:  # type: ignore[type-arg]
    return sum(1 for r in regions if r.source == "face")


BAD = [
    ("-5", "10", "40", "40"), ("500", "10", "40", "40"), ("10", "10", "600", "40"),
    ("10", "10", "40", "abc"), ("10", "10", "2", "40"), ("10", "510", "40", "40"), ("", "", "", ""),
]  # fmt: skip


async def test_bad_coordinates_change_nothing(
    client: TestClient, engine: Engine, org: Org, settings: Settings
) -> None:
    report_id, photo = await _report(engine, org, settings)
    csrf = await log_in(client, engine, org.people["mo"])
    for x, y, width, height in BAD:
        response = await client.post(
            f"/admin/reports/{report_id}/photos/{photo.id}/regions",
            data={"csrf": csrf, "version": photo.processed_id, "x": x, "y": y,
                  "width": width, "height": height},
        )  # fmt: skip
        html = await response.text()
        assert response.status == 400 and 'aria-invalid="true"' in html, (x, y, width, height)
        assert any(text in html for text in ("geheel getal", "buiten de foto", "Minstens")), (
            html
        )  # the moderator's language is Dutch
    assert (await _photo(engine, photo.id)).processed_id == photo.processed_id
    async with engine.db.transaction(read_only=True) as session:
        assert await Redactions(session).regions(photo.id) is None


async def test_only_moderators_and_only_with_csrf(
    client: TestClient, engine: Engine, org: Org, settings: Settings
) -> None:
    report_id, photo = await _report(engine, org, settings)
    url = f"/admin/reports/{report_id}/photos/{photo.id}"
    form = {"version": photo.processed_id, "x": "10", "y": "10", "width": "40", "height": "40"}
    csrf = await log_in(client, engine, org.people["olga"])  # OR member, not a moderator
    assert (await client.get(url)).status == 403
    assert (await client.post(f"{url}/regions", data={"csrf": csrf, **form})).status == 403
    client.session.cookie_jar.clear()
    await log_in(client, engine, org.people["mo"])
    assert (await client.post(f"{url}/regions", data=form)).status == 403  # no CSRF token
    assert (await client.post(f"{url}/regions", data={"csrf": "x" * 64, **form})).status == 403
    assert (await _photo(engine, photo.id)).processed_id == photo.processed_id
    assert (await client.get(f"/admin/reports/{report_id}/photos/999999")).status == 404
    client.session.cookie_jar.clear()
    # A constituent cannot even log in to the dashboard; a forged session is no session.
    response = await client.post(f"{url}/regions", data={"csrf": csrf, **form})
    assert response.status == 403
