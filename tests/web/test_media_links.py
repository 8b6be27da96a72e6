"""Media files are served only by signed, expiring links."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Runtime, build_runtime
from bot.config import Settings
from bot.media_links import link_valid, media_url
from bot.server import create_web_app
from storage.media import ORIGINAL, PROCESSED

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[tuple[TestClient, Runtime]]:
    runtime = build_runtime(settings)
    async with TestClient(TestServer(create_web_app(runtime, background=False))) as client:
        yield client, runtime


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_a_signed_link_serves_the_file(served: tuple[TestClient, Runtime]) -> None:
    client, runtime = served
    media_id = runtime.engine.media_store.put(PNG, PROCESSED)
    url = media_url(runtime.settings, media_id)
    assert url.startswith(runtime.settings.public_url)
    response = await client.get(path_of(url))
    assert response.status == 200 and await response.read() == PNG
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_forged_expired_or_unsigned_links_are_refused(
    served: tuple[TestClient, Runtime],
) -> None:
    client, runtime = served
    media_id = runtime.engine.media_store.put(PNG, PROCESSED)
    good = path_of(media_url(runtime.settings, media_id))
    assert (await client.get(f"/media/{media_id}")).status == 403
    assert (await client.get(good.replace("sig=", "sig=x"))).status == 403
    other = runtime.engine.media_store.put(PNG + b"1", PROCESSED)
    assert (await client.get(good.replace(media_id, other))).status == 403
    expired = path_of(media_url(runtime.settings, media_id, now=time.time() - 8 * 24 * 3600))
    assert (await client.get(expired)).status == 403
    assert (await client.get("/media/not-an-id?exp=1&sig=x")).status in (403, 404)


def test_originals_expire_sooner(settings: Settings) -> None:
    from storage.media import MediaStore

    store = MediaStore(settings.data_dir / "media")
    original = store.put(PNG, ORIGINAL)
    now = time.time()
    query = dict(
        p.split("=", 1) for p in urlsplit(media_url(settings, original, now=now)).query.split("&")
    )
    assert int(query["exp"]) == int(now + 3600)
    assert link_valid(settings, original, query["exp"], query["sig"], now=now + 3500)
    assert not link_valid(settings, original, query["exp"], query["sig"], now=now + 3700)
