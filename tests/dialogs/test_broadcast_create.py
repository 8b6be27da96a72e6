"""An OR member composes, previews, schedules, edits and cancels a broadcast in chat; a photo
goes through the report-photo pipeline (metadata gone, faces blurred)."""

from __future__ import annotations

import asyncio
import dataclasses
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from bot.app import new_engine
from bot.engine import Engine
from bot.messages import MediaRef, Outgoing
from bot.scheduler import Scheduler
from storage.broadcast_models import Broadcast
from storage.db import Database
from storage.media import PROCESSED, MediaStore
from tests.support.broadcasts import START, Clock, create, status
from tests.support.org import Org
from tests.test_photos import astronaut, encode, scene, with_gps


class LocalFiles:
    """A media fetcher over local files (the runtime's asks the channel's adapter)."""

    async def __call__(self, channel: str, ref: MediaRef) -> bytes:
        return await asyncio.to_thread(Path(ref.url.removeprefix("file://")).read_bytes)


@pytest.fixture
def engine(db: Database, settings) -> Engine:  # type: ignore[no-untyped-def]
    engine = new_engine(db, settings, clock=Clock())
    engine.fetch_media = LocalFiles()
    return engine


def pick(message: Outgoing, label: str) -> str:
    """The payload of the choice labelled `label` (or the one label that contains it)."""
    found = [c.payload for c in message.choices if label == c.label]
    found = found or [c.payload for c in message.choices if label in c.label]
    assert len(found) == 1, [c.label for c in message.choices]
    return found[0]


async def broadcasts(engine: Engine) -> list[Broadcast]:
    async with engine.db.transaction(read_only=True) as session:
        return list((await session.execute(select(Broadcast).order_by(Broadcast.id))).scalars())


async def test_compose_preview_change_and_schedule(engine: Engine, org: Org) -> None:
    await org.say("olga", "nieuw bericht")
    assert "Typ het nieuwsbericht" in (await org.last("olga")).text
    await org.say("olga", "Morgen geen koffie in hal 3.")
    await org.say("olga", choice=pick(await org.last("olga"), "Geen foto"))
    await org.say("olga", choice=pick(await org.last("olga"), "Afdeling Productie"))
    await org.say("olga", "gisteren 8:00")
    assert "(dinsdag 24 november om 08:00) is al voorbij" in (await org.last("olga")).text
    await org.say("olga", "morgen 8:00")
    await org.say("olga", choice=pick(await org.last("olga"), "Ja"))
    preview = await org.last("olga")
    assert "Morgen geen koffie in hal 3." in preview.text
    assert "[Nuttig] [Niet nuttig] [Gelezen]" in preview.text
    assert "Afdeling Productie – nu 4 ontvangers" in preview.text
    assert "donderdag 26 november 2026 08:00" in preview.text

    await org.say("olga", choice=pick(preview, "Wijzigen"))
    await org.say("olga", choice=pick(await org.last("olga"), "Tekst"))
    await org.say("olga", "Morgen geen koffie in hal 4.")
    preview = await org.last("olga")  # straight back to the preview
    assert "hal 4" in preview.text and "Afdeling Productie" in preview.text
    await org.say("olga", choice=pick(preview, "Inplannen"))
    assert "ingepland voor donderdag 26 november 2026 08:00" in (await org.last("olga")).text

    [row] = await broadcasts(engine)
    assert (row.text, row.audience, row.acknowledge, row.status) == (
        "Morgen geen koffie in hal 4.",
        {"department": "Productie"},
        True,
        "scheduled",
    )
    assert row.scheduled_at == datetime(2026, 11, 26, 7, 0, tzinfo=UTC)  # 08:00 in Amsterdam
    assert not any("hal 4" in m.text for m in await org.outbox("emp0"))


async def test_edit_until_sent_then_refused(engine: Engine, org: Org) -> None:
    await org.say("olga", "nieuw bericht")
    await org.say("olga", "Eerste versie")
    await org.say("olga", choice=pick(await org.last("olga"), "Geen foto"))
    await org.say("olga", choice=pick(await org.last("olga"), "Iedereen"))
    await org.say("olga", "vanavond 19:30")
    await org.say("olga", choice=pick(await org.last("olga"), "Nee"))
    await org.say("olga", choice=pick(await org.last("olga"), "Inplannen"))
    [row] = await broadcasts(engine)

    await org.say("olga", "nieuws")
    listing = await org.last("olga")
    assert f"#{row.id} · ingepland" in listing.text and "Eerste versie" in listing.text
    edit = pick(listing, f"Wijzig #{row.id}")
    await org.say("mo", choice=edit)
    assert "Dat kunnen alleen leden" in (await org.last("mo")).text
    await org.say("olga", choice=edit)
    assert "Eerste versie" in (await org.last("olga")).text  # the preview
    await org.say("olga", choice=pick(await org.last("olga"), "Wijzigen"))
    await org.say("olga", choice=pick(await org.last("olga"), "Tijdstip"))
    await org.say("olga", "nu")
    await org.say("olga", choice=pick(await org.last("olga"), "Nu versturen"))
    assert "wordt verstuurd; 10 berichten" in (await org.last("olga")).text
    assert "Eerste versie" in (await org.last("emp0")).text
    assert (await status(engine, row.id)).status == "sent"
    await org.say("olga", choice=edit)
    assert "wijzigen kan niet meer" in (await org.last("olga")).text
    await org.say("olga", choice=f"bcm:{row.id}:status")
    figures = (await org.last("olga")).text
    assert "Ontvangers: 10" in figures and "wacht nog: 10" in figures


async def test_nothing_is_sent_when_discarded_or_stopped(engine: Engine, org: Org) -> None:
    await org.say("olga", "nieuw bericht")
    await org.say("olga", "Weg ermee")
    await org.say("olga", "stop")  # the engine's cancel word ends the dialog
    assert "Gestopt" in (await org.last("olga")).text
    await org.say("emp0", "nieuw bericht")
    assert "alleen leden van de ondernemingsraad" in (await org.last("emp0")).text
    assert await broadcasts(engine) == []
    await Scheduler(engine).tick()
    assert not any("Weg ermee" in m.text for m in await org.outbox("emp0"))


async def test_photo_is_scrubbed_and_faces_blurred(engine: Engine, org: Org, tmp_path) -> None:  # type: ignore[no-untyped-def]
    raw = with_gps(astronaut())
    path = tmp_path / "foto.jpg"
    path.write_bytes(raw)
    ref = MediaRef(url=f"file://{path}", content_type="image/jpeg", size=len(raw))
    await org.say("olga", "nieuw bericht")
    await org.engine.handle(
        dataclasses.replace(org.incoming("olga", "Kijk: de nieuwe kantine"), attachments=(ref,))
    )
    messages = await org.outbox("olga")
    assert "vervaagde gezichten: 1" in messages[-2].text
    assert "Voor wie" in messages[-1].text  # text and photo together: straight to the audience
    await org.say("olga", choice=pick(await org.last("olga"), "Iedereen"))
    await org.say("olga", choice=pick(await org.last("olga"), "Nu"))
    await org.say("olga", choice=pick(await org.last("olga"), "Nee"))
    preview = (await org.outbox("olga"))[-2]
    assert preview.images and preview.images[0].startswith("p-")
    await org.say("olga", choice=pick(await org.last("olga"), "Nu versturen"))

    [row] = await broadcasts(engine)
    assert row.image_id == preview.images[0]
    assert (await org.last("emp0")).images == (row.image_id,)
    store = MediaStore(engine.settings.data_dir / "media")
    stored = store.read(row.image_id)
    assert b"SecretCam" not in stored and b"secret comment" not in stored
    assert len(Image.open(io.BytesIO(stored)).getexif()) == 0
    assert not (engine.settings.data_dir / "media" / "original").exists()  # no original kept


async def test_a_broadcast_image_outlives_the_media_purge(engine: Engine, org: Org) -> None:
    """A scheduled broadcast's photo must still be there when it goes out days later."""
    store = MediaStore(engine.settings.data_dir / "media")
    image_id = store.put(encode(scene()), PROCESSED, now=START)
    broadcast_id = await create(engine, "Met foto", at=START + timedelta(days=5))
    async with engine.db.transaction() as session:
        row = await session.get(Broadcast, broadcast_id)
        assert row is not None
        row.image_id = image_id
    orphan = store.put(encode(scene(seed=2)), PROCESSED, now=START)  # used by nothing
    assert isinstance(engine.clock, Clock)
    engine.clock.advance(days=3)
    assert (await Scheduler(engine).tick()).jobs["media_purge"] == 1
    assert store.exists(image_id) and not store.exists(orphan)
    engine.clock.advance(days=2)
    await Scheduler(engine).tick()
    assert (await org.last("emp0")).images == (image_id,)


async def test_a_file_that_is_no_photo_is_refused(engine: Engine, org: Org, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "notes.jpg"
    path.write_bytes(b"not an image at all")
    ref = MediaRef(url=f"file://{path}", content_type="image/jpeg", size=19)
    await org.say("olga", "nieuw bericht")
    await org.say("olga", "Tekst")
    await org.engine.handle(dataclasses.replace(org.incoming("olga"), attachments=(ref,)))
    messages = await org.outbox("olga")
    assert "geen foto die ik kan lezen" in messages[-2].text
    assert "Wil je er een foto bij" in messages[-1].text  # still at the photo step
