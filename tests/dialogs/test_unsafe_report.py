"""Unsafe-situation reports: the reporter's dialog, moderation, anonymity, reminders, purge.

Photos come from local files through a media fetcher, as the runtime's adapters would
fetch them from the platforms; the media store lives in the test's data directory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from bot.app import new_engine
from bot.engine import Engine
from bot.messages import MediaRef
from bot.scheduler import Scheduler
from storage.db import Database
from storage.media import MediaStore
from storage.models import AuditEntry, Report, ReportNote, ReportPhoto
from tests.support.org import Org
from tests.test_photos import encode, scene, two_faces_jpeg, with_gps

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class LocalFiles:
    """A media fetcher over local files (the runtime's asks the channel's adapter)."""

    def __init__(self) -> None:
        self.fetched: list[tuple[str, str]] = []

    async def __call__(self, channel: str, ref: MediaRef) -> bytes:
        self.fetched.append((channel, ref.url))
        return await asyncio.to_thread(Path(ref.url.removeprefix("file://")).read_bytes)


@pytest.fixture
def engine(db: Database, settings) -> Engine:  # type: ignore[no-untyped-def]
    engine = new_engine(db, settings, clock=Clock())
    engine.fetch_media = LocalFiles()
    return engine


def store(engine: Engine) -> MediaStore:
    return MediaStore(engine.settings.data_dir / "media")


def photo_file(tmp_path: Path, name: str, data: bytes) -> MediaRef:
    path = tmp_path / name
    path.write_bytes(data)
    return MediaRef(url=f"file://{path}", content_type="image/jpeg", size=len(data))


async def send(org: Org, key: str, *refs: MediaRef, text: str = "") -> None:
    incoming = dataclasses.replace(org.incoming(key, text), attachments=refs)
    await org.engine.handle(incoming)


async def reports(engine: Engine) -> list[Report]:
    async with engine.db.transaction(read_only=True) as session:
        return list((await session.execute(select(Report).order_by(Report.id))).scalars())


async def rows(engine: Engine, model: type) -> list:  # type: ignore[type-arg]
    async with engine.db.transaction(read_only=True) as session:
        return list((await session.execute(select(model))).scalars())


async def texts(org: Org, key: str) -> list[str]:
    return [m.text for m in await org.outbox(key)]


async def test_named_report_with_photo_in_dutch(engine: Engine, org: Org, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await org.say("emp0", "melding")
    assert "Stuur 1 tot 5 foto's" in (await org.last("emp0")).text
    await send(org, "emp0", photo_file(tmp_path, "trap.jpg", with_gps(scene())))
    assert "1 foto ontvangen" in (await org.last("emp0")).text
    assert engine.fetch_media.fetched == [("console", f"file://{tmp_path / 'trap.jpg'}")]
    await org.say("emp0", "klaar")
    await org.say("emp0", "De leuning")
    await org.say("emp0", "terug")
    assert "Wat is er onveilig?" in (await org.last("emp0")).text
    for line in ["De trapleuning is los", "Hal 3, bij de laadkuil", "Nee", "Met naam"]:
        await org.say("emp0", line)
    summary = (await org.last("emp0")).text
    assert "Wat: De trapleuning is los" in summary and "Waar: Hal 3" in summary
    await org.say("emp0", "Versturen")
    [report] = await reports(engine)
    assert (report.reporter_id, report.privacy, report.status) == (
        org.people["emp0"].id, "named", "new",
    )  # fmt: skip
    assert report.submitted_at == START and report.recognisable == "no"
    assert f"nummer {report.id}" in (await org.last("emp0")).text
    [photo] = await rows(engine, ReportPhoto)
    processed = store(engine).read(photo.processed_id)
    assert b"Exif" not in processed and b"secret comment" not in processed
    assert store(engine).read(photo.original_id) == with_gps(scene())  # kept for moderators
    notice = await org.last("mo")
    assert f"Melding onveilige situatie {report.id}" in notice.text and "Emp0" in notice.text
    assert notice.images == (photo.processed_id,)
    payloads = [c.payload for c in notice.choices]
    assert payloads[:4] == [
        f"rm:{report.id}:{v}" for v in ("publish", "forward", "resolve", "reject")
    ]
    assert await org.outbox("olga") == []  # nothing reaches the OR before a moderator acts


async def test_photo_without_command_starts_a_report(engine: Engine, org: Org, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A photo sent with no dialog running starts a report."""
    await send(org, "emp2", photo_file(tmp_path, "a.jpg", encode(scene())))
    assert "1 foto ontvangen" in (await org.last("emp2")).text


async def test_english_back_buttons_and_fully_anonymous(engine: Engine, org: Org) -> None:
    await org.say("emp1", "report")
    assert "Send 1 to 5 photos" in (await org.last("emp1")).text
    await org.say("emp1", "No photo")  # typed label
    await org.say("emp1", "Broken stairs")
    await org.say("emp1", "back")
    assert "What is unsafe?" in (await org.last("emp1")).text
    await org.say("emp1", "Broken ladder")
    await org.say("emp1", "Hall 2")
    assert "report anonymously" in (await org.last("emp1")).text
    await org.say("emp1", choice="ur:back")  # the Back button
    assert "Where is it?" in (await org.last("emp1")).text
    await org.say("emp1", "Hall 3")
    await org.say("emp1", "3")  # fully anonymous, by number
    await org.say("emp1", "Send")
    [report] = await reports(engine)
    assert (report.description, report.location) == ("Broken ladder", "Hall 3")
    assert report.reporter_id is None and report.submitted_at is None
    assert report.submitted_on == START.date() and report.code_hash
    reply = (await org.last("emp1")).text
    code = reply.split("Your secret code: ")[1].split()[0]
    assert "We keep nothing that leads to you" in reply
    assert await org.outbox("mo") == []  # the notice waits for the next tick
    async with engine.db.transaction(read_only=True) as session:
        audit = list((await session.execute(select(AuditEntry))).scalars())
    assert not [a for a in audit if a.actor_id == org.people["emp1"].id]

    assert (await Scheduler(engine).tick()).jobs["report_anonymous_notices"] == 1
    assert "volledig anoniem" in (await org.last("mo")).text  # the moderator reads Dutch
    assert (await Scheduler(engine).tick()).jobs["report_anonymous_notices"] == 0

    # The code works on any channel; it adds information without any link to the person.
    await org.say("emp1", "status " + code.lower().replace("-", " "), channel="slack", account="U1")
    assert f"Report {report.id}: new, being reviewed." in (await org.last("emp1")).text
    await org.say("emp1", "Add information", channel="slack", account="U1")
    await org.say("emp1", "It is getting worse", channel="slack", account="U1")
    [note] = await rows(engine, ReportNote)
    assert (note.report_id, note.text, note.author_id) == (report.id, "It is getting worse", None)
    assert "It is getting worse" in (await org.last("mo")).text
    await org.say("emp1", "status ABCD-EFGH-JKMN")
    assert "don't know that code" in (await org.last("emp1")).text

    # Moderators' status changes are visible through the code only.
    await org.say("mo", choice=f"rm:{report.id}:resolve")
    assert "resolved" not in (await org.last("emp1")).text
    await org.say("emp1", f"status {code}")
    assert "resolved" in (await org.last("emp1")).text


async def test_consent_per_person_keeps_only_the_chosen_face(
    engine: Engine, org: Org, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    await org.say("emp0", "melding")
    await send(org, "emp0", photo_file(tmp_path, "two.jpg", two_faces_jpeg()))
    for line in ["Klaar", "Twee collega's zonder helm", "Dak"]:
        await org.say("emp0", line)
    assert "Ik zie 2 gezichten" in (await org.last("emp0")).text
    await org.say("emp0", "Ja")
    await org.say("emp0", "Sommigen wel")
    preview = await org.last("emp0")
    assert "genummerd" in preview.text and len(preview.images) == 1
    assert preview.images[0].startswith("o-") and store(engine).exists(preview.images[0])
    await org.say("emp0", "7")
    assert "nummers van 1 tot 2" in (await org.last("emp0")).text  # reason and question in one
    await org.say("emp0", "2")
    await org.say("emp0", "Met naam")
    assert "onherkenbaar worden gemaakt: 1" in (await org.last("emp0")).text
    await org.say("emp0", "Versturen")
    [report] = await reports(engine)
    [photo] = await rows(engine, ReportPhoto)
    assert (report.consent, photo.faces, photo.blurred) == ("some", 2, 1)
    out = np.asarray(Image.open(io.BytesIO(store(engine).read(photo.processed_id))), np.float32)
    original = np.asarray(Image.open(io.BytesIO(two_faces_jpeg())).convert("RGB"), np.float32)
    left = (slice(80, 150), slice(190, 260))  # inside face 1
    right = (slice(80, 150), slice(702, 772))  # inside face 2
    assert np.abs(out[left] - original[left]).mean() > 12  # blurred
    assert np.abs(out[right] - original[right]).mean() < 4  # kept: consent given


async def test_moderator_actions_and_the_reporter_is_told(engine: Engine, org: Org) -> None:
    async def report(what: str) -> int:
        before = {r.id for r in await reports(engine)}
        for line in ["melding", "Geen foto", what, "Kantine", "Anoniem (naam verborgen)"]:
            await org.say("emp2", line)
        await org.say("emp2", "Versturen")
        [new] = [r.id for r in await reports(engine) if r.id not in before]  # ids are random
        return new

    first = await report("Natte vloer")
    notice = await org.last("mo")
    assert "anoniem (de melder hoort de afloop)" in notice.text and "Emp2" not in notice.text
    await org.say("emp3", choice=f"rm:{first}:forward")
    assert "alleen moderatoren" in (await org.last("emp3")).text
    await org.say("mo", choice=f"rm:{first}:forward")
    assert "doorgestuurd naar management" in (await org.last("emp2")).text
    await org.say("mo", choice=f"rm:{first}:reject")
    await org.say("mo", "Dubbele melding")
    told = (await org.last("emp2")).text
    assert "afgewezen" in told and "Toelichting: Dubbele melding" in told
    await org.say("mo", choice=f"rm:{first}:publish")
    assert "is niet gewijzigd" in (await org.last("mo")).text
    assert {r.id: r.status for r in await reports(engine)}[first] == "rejected"

    second = await report("Losse kabel")
    await org.say("mo", choice=f"rm:{second}:publish")
    published = await org.last("olga")
    assert (
        f"Melding onveilige situatie {second}" in published.text and "Losse kabel" in published.text
    )
    await org.say("mo", choice=f"rm:{second}:reject")
    await org.say("mo", "terug")
    assert "niet afgewezen" in (await org.last("mo")).text
    assert {r.id: r.status for r in await reports(engine)}[second] == "published"
    await org.say("mo", choice="rm:999:publish")
    assert "bestaat niet" in (await org.last("mo")).text


async def test_refused_files_are_explained_and_nothing_is_stored(
    engine: Engine, org: Org, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    await org.say("emp0", "melding")
    heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 64
    await send(org, "emp0", photo_file(tmp_path, "x.heic", heic))
    assert "HEIC" in (await org.outbox("emp0"))[-2].text
    pdf = MediaRef(url=f"file://{tmp_path / 'x.pdf'}", content_type="application/pdf")
    await send(org, "emp0", pdf)
    assert "geen foto die ik kan lezen" in (await org.outbox("emp0"))[-2].text
    engine.settings = engine.settings.model_copy(update={"media_max_bytes": 1000})
    await send(org, "emp0", photo_file(tmp_path, "big.jpg", encode(scene())))
    assert "te groot" in (await org.outbox("emp0"))[-2].text
    assert "Stuur 1 tot 5 foto's" in (await org.last("emp0")).text  # still at the first step
    assert not (engine.settings.data_dir / "media").exists()


async def test_half_finished_report_is_reminded_once_then_discarded(
    engine: Engine, org: Org, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    clock: Clock = engine.clock  # type: ignore[assignment]
    await org.say("emp0", "melding")
    await send(org, "emp0", photo_file(tmp_path, "a.jpg", encode(scene())))
    [original] = list((store(engine).root / "original").glob("*/*"))
    scheduler = Scheduler(engine)
    clock.now = START + timedelta(hours=3)
    assert (await scheduler.tick()).jobs["report_drafts"] == 0
    clock.now = START + timedelta(hours=5)
    assert (await scheduler.tick()).jobs["report_drafts"] == 1
    assert "nog niet verstuurd" in (await org.last("emp0")).text
    assert (await scheduler.tick()).jobs["report_drafts"] == 0  # reminded once
    clock.now = START + timedelta(hours=25)
    assert (await scheduler.tick()).jobs["report_drafts"] == 1
    assert "weggegooid" in (await org.last("emp0")).text
    assert not original.exists()  # the draft's original is deleted with it
    await org.say("emp0", "klaar")
    assert await reports(engine) == []
    assert "weggegooid" not in (await org.last("emp0")).text


async def test_cancel_and_photo_at_a_later_step(engine: Engine, org: Org, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await org.say("emp0", "onveilig")
    await org.say("emp0", "Geen foto")
    await send(org, "emp0", photo_file(tmp_path, "late.jpg", encode(scene())))
    assert "beantwoord eerst de vraag" in (await org.last("emp0")).text
    await org.say("emp0", "annuleer")
    assert "Gestopt" in (await org.last("emp0")).text
    assert await reports(engine) == []


async def test_originals_are_purged_after_the_retention_period(
    engine: Engine, org: Org, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    clock: Clock = engine.clock  # type: ignore[assignment]
    await org.say("emp0", "melding")
    await send(org, "emp0", photo_file(tmp_path, "a.jpg", encode(scene())))
    for line in ["Klaar", "Kapotte lamp", "Gang", "Nee", "Met naam", "Versturen"]:
        await org.say("emp0", line)
    [photo] = await rows(engine, ReportPhoto)
    media = store(engine)
    clock.now = START + timedelta(days=10)
    await Scheduler(engine).tick()
    assert media.exists(photo.original_id) and media.exists(photo.processed_id)
    await org.say("mo", choice=f"rm:{photo.report_id}:original")
    assert (await org.last("mo")).images == (photo.original_id,)
    clock.now = START + timedelta(days=32)
    assert (await Scheduler(engine).tick()).jobs["media_purge"] >= 1
    assert not media.exists(photo.original_id) and media.exists(photo.processed_id)
    [after] = await rows(engine, ReportPhoto)
    assert after.original_id is None
    await org.say("mo", choice=f"rm:{photo.report_id}:original")
    assert "zijn er niet meer" in (await org.last("mo")).text
