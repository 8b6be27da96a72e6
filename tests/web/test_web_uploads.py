"""Web chat uploads: checked before anything is kept, never written to disk, limited per person
(bot/web/uploads.py), and numbers in chat forms read as ASCII digits only."""

from __future__ import annotations

import asyncio
import io
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image, ImageFile
from sqlalchemy import func, select

from adapters.web import WebAdapter
from bot.config import Settings
from bot.engine import Engine
from bot.i18n import t
from bot.messages import Incoming
from bot.web.uploads import LEGACY_UPLOAD_DIR, UploadQuota
from storage.models import InboundEvent
from tests.e2e.support import build_app, join_chat
from tests.support.org import Org

FETCH = {"X-Requested-With": "fetch"}


def _jpeg(width: int = 64, height: int = 48) -> bytes:
    image = io.BytesIO()
    Image.new("RGB", (width, height), (90, 140, 200)).save(image, "JPEG")
    return image.getvalue()


def _bomb_png(side: int = 6320) -> bytes:
    """A complete 1-bit PNG of side² black pixels in about 5 KB (finding 11's file)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    idat = zlib.compress(b"\0" * (1 + (side + 7) // 8) * side, 9)
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _form(csrf: str, data: bytes | None, text: str = "", **fields: str) -> FormData:
    form = FormData()
    form.add_field("csrf", csrf)
    form.add_field("text", text)
    for name, value in fields.items():
        form.add_field(name, value)
    # The browser's name and type say nothing: the header decides (a PNG posing as JPEG).
    form.add_field("photo", data or b"", filename="photo.jpg", content_type="image/jpeg")
    return form


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


async def _events(engine: Engine) -> int:
    async with engine.db.transaction(read_only=True) as session:
        query = select(func.count()).select_from(InboundEvent)
        return int((await session.execute(query)).scalar_one())


class Chat:
    """The whole app with access to its web adapter and engine."""

    def __init__(self, client: TestClient, adapter: WebAdapter, engine: Engine) -> None:
        self.client, self.adapter, self.engine = client, adapter, engine
        self.csrf = ""

    async def send(self, data: bytes | None, text: str = "", **fields: str) -> dict[str, Any]:
        response = await self.client.post(
            "/chat/send", data=_form(self.csrf, data, text, **fields), headers=FETCH
        )
        assert response.status == 200, await response.text()
        return dict(await response.json())


@pytest.fixture
async def chat(settings: Settings, engine: Engine, org: Org) -> AsyncIterator[Chat]:
    async with OpenChat(settings, engine, org) as opened:
        yield opened


class OpenChat:
    def __init__(self, settings: Settings, engine: Engine, org: Org) -> None:
        self.settings, self.engine, self.org = settings, engine, org

    async def __aenter__(self) -> Chat:
        app, runtime = build_app(self.settings)
        adapter = runtime.mounts["web"].adapter
        assert isinstance(adapter, WebAdapter)
        self.client = TestClient(TestServer(app))
        await self.client.start_server()
        opened = Chat(self.client, adapter, runtime.engine)
        opened.csrf = await join_chat(self.client, self.engine, self.org.people["emp0"])
        return opened

    async def __aexit__(self, *exc: object) -> None:
        await self.client.close()


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (_bomb_png(), "photo.too_many_pixels"),
        (b"GIF89a" + b"\0" * 100, "photo.not_an_image"),
        (b"%PDF-1.7\n" + b"x" * 100, "photo.not_an_image"),
        (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 64, "photo.heic"),
    ],
)
async def test_a_refused_upload_is_answered_and_never_touches_disk(
    chat: Chat,
    engine: Engine,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    data: bytes,
    key: str,
) -> None:
    def load(self: ImageFile.ImageFile) -> None:
        raise AssertionError("an upload was decoded before it was checked")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    events, before = await _events(engine), _files(settings.data_dir)
    body = await chat.send(data, text="kijk")
    # Dutch: emp0 reads Dutch. The photo pipeline's reason, and that nothing was sent.
    assert body["notice"] == t("nl", key) + " " + t("nl", "upload.nothing_sent")
    assert await _events(engine) == events  # not even the text went
    assert _files(settings.data_dir) == before
    assert len(chat.adapter.uploads) == 0


async def test_an_accepted_upload_is_dropped_once_its_message_is_handled(
    chat: Chat, engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, str | None]] = []
    handle = chat.engine.handle

    async def spy(incoming: Incoming) -> Any:
        (ref,) = incoming.attachments
        seen.append((ref.url, ref.content_type))
        assert len(chat.adapter.uploads) == 1  # held while the dialog may fetch it
        return await handle(incoming)

    monkeypatch.setattr(chat.engine, "handle", spy)
    png = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(png, "PNG")
    body = await chat.send(png.getvalue())
    assert body["notice"] is None and "1 foto" in " ".join(m["html"] for m in body["messages"])
    # Sent as "image/jpeg" by the browser; the header says PNG, and that is what counts.
    assert seen and seen[0][1] == "image/png"
    assert len(chat.adapter.uploads) == 0
    assert not (settings.data_dir / LEGACY_UPLOAD_DIR).exists()


async def test_photos_per_hour_are_limited_per_person(
    settings: Settings, engine: Engine, org: Org
) -> None:
    limited = settings.model_copy(update={"upload_max_per_hour": 2})
    async with OpenChat(limited, engine, org) as chat:
        for _ in range(2):
            assert (await chat.send(_jpeg()))["notice"] is None
        events = await _events(engine)
        body = await chat.send(_jpeg(), text="nog een")
        assert body["notice"] == t("nl", "upload.hourly_limit", max=2)
        assert await _events(engine) == events
        # Text without a photo is not limited.
        assert (await chat.send(None, text="help"))["notice"] is None
        assert await _events(engine) == events + 1


async def test_one_upload_at_a_time_when_so_set(
    settings: Settings, engine: Engine, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    limited = settings.model_copy(update={"upload_max_pending": 1})
    async with OpenChat(limited, engine, org) as chat:
        entered, release = asyncio.Event(), asyncio.Event()
        handle = chat.engine.handle

        async def slow(incoming: Incoming) -> Any:
            entered.set()
            await release.wait()
            return await handle(incoming)

        monkeypatch.setattr(chat.engine, "handle", slow)
        first = asyncio.create_task(chat.send(_jpeg()))
        await asyncio.wait_for(entered.wait(), 10)
        busy = await asyncio.wait_for(chat.send(_jpeg()), 10)
        assert busy["notice"] == t("nl", "upload.busy")
        release.set()
        assert (await first)["notice"] is None
        monkeypatch.setattr(chat.engine, "handle", handle)
        assert (await chat.send(_jpeg()))["notice"] is None  # the slot was given back
        assert len(chat.adapter.uploads) == 0


def test_the_hourly_window_slides() -> None:
    now = [1000.0]
    quota = UploadQuota(max_pending=5, max_per_hour=2, clock=lambda: now[0])
    assert quota.admit(1) is None and quota.admit(1) is None
    assert quota.admit(1) == "upload.hourly_limit"
    assert quota.admit(2) is None  # per person
    quota.release(1)
    quota.release(1)
    now[0] += 3599
    assert quota.admit(1) == "upload.hourly_limit"
    now[0] += 1
    assert quota.admit(1) is None


def test_pending_uploads_are_limited_until_released() -> None:
    quota = UploadQuota(max_pending=1, max_per_hour=100)
    assert quota.admit(7) is None
    assert quota.admit(7) == "upload.busy"
    quota.release(7)
    assert quota.admit(7) is None


async def test_uploads_older_versions_left_on_disk_are_removed(
    settings: Settings, engine: Engine, org: Org
) -> None:
    legacy = settings.data_dir / LEGACY_UPLOAD_DIR
    legacy.mkdir(parents=True)
    (legacy / ("ab" * 16)).write_bytes(b"someone's photo")
    async with OpenChat(settings, engine, org):
        assert not legacy.exists()


@pytest.mark.parametrize("value", ["¹", "²", "٣", "1" * 18, "-1", " 1"])
async def test_numbers_in_chat_forms_are_ascii_digits_only(chat: Chat, value: str) -> None:
    """`"¹".isdigit()` is True and `int("¹")` raises: that was a 500."""
    assert (await chat.send(None, text="help", after=value, ref=value))["messages"] is not None
    poll = await chat.client.post(
        "/chat/poll", data={"csrf": chat.csrf, "after": value}, headers=FETCH
    )
    assert poll.status == 200
