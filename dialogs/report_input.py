"""The report dialog's intake and hand-in: photos (fetched, checked and stored as
originals), the caption sent with them (the description, issue 13), typed answers to its
buttons as colleagues type them, and the submission (photos processed once the consent is
known). Split from dialogs/unsafe_report.py, which holds the steps.
"""

from __future__ import annotations

import asyncio
import logging

from bot import photos
from bot.conversation import Turn
from bot.understand.answers import Ambiguous, Matched, understand_answer
from bot.usecases import Refused, reports
from bot.usecases.reports import MAX_TEXT, check_text
from dialogs.report_moderation import media_of
from storage.media import ORIGINAL, PROCESSED
from storage.reports import NAMED, NewPhoto

log = logging.getLogger("dialogs.unsafe_report")

MAX_PHOTOS = 5


async def take_photos(turn: Turn) -> None:
    """Fetch, check and store the attached photos (as originals); refusals are explained."""
    services = turn.services
    media = media_of(services)
    if media is None or media.fetch is None:
        turn.reply(turn.t("report.photos_unavailable"))
        return
    max_bytes = services.settings.media_max_bytes
    taken = list(turn.state.get("photos", []))
    for ref in turn.incoming.attachments:
        if len(taken) >= MAX_PHOTOS:
            turn.reply(turn.t("report.too_many_photos", max=MAX_PHOTOS))
            break
        if ref.content_type and not ref.content_type.lower().startswith("image/"):
            turn.reply(turn.t("photo.not_an_image"))
            continue
        if ref.size is not None and ref.size > max_bytes:
            turn.reply(turn.t("photo.too_large", max_mb=max_bytes // (1024 * 1024)))
            continue
        try:
            data = await media.fetch(turn.incoming.channel, ref)
        except Exception:
            # The platform's file could not be had (expired, too large, network): say so.
            log.warning("media fetch failed", extra={"channel": turn.incoming.channel})
            turn.reply(turn.t("report.photo_fetch_failed"))
            continue
        try:
            prepared = await asyncio.to_thread(photos.prepare, data, max_bytes=max_bytes)
        except photos.PhotoRefused as exc:
            turn.reply(turn.t(exc.key, **exc.params))
            continue
        original = media.store.put(data, ORIGINAL, now=services.now)
        taken.append({"original": original, "faces": [f.as_list() for f in prepared.faces]})
    turn.set(photos=taken)
    take_caption(turn)


def take_caption(turn: Turn) -> None:
    """ "kijk, er ligt olie bij machine 4" sent with the photo is the description (the
    first caption counts; one too long is left for the description step to refuse)."""
    caption = turn.text
    if not caption or turn.state.get("what") or not turn.incoming.attachments:
        return
    if turn.registry.find_command(caption) is not None:
        return  # "melding" with a photo is the command, not a description
    try:
        turn.set(what=check_text(caption, MAX_TEXT))
    except Refused:
        return
    # Not echoed: the report may yet become anonymous, and this line waits unsealed.
    turn.reply(turn.t("report.caption_taken"))


async def typed_choice(turn: Turn) -> str | list[str] | None:
    """A typed answer to this dialog's buttons as colleagues type it ("ja hoor", "nee",
    "de tweede"): the payload when it is wholly an answer and fits one button, the labels
    of the buttons it fits when it fits several ("anoniem": named hidden, or fully
    anonymous), else None."""
    asked = await turn.last_asked()
    if asked is None or not asked.choices:
        return None
    result = understand_answer(turn.text, asked.choices, multiple=asked.multiple)
    if isinstance(result, Matched) and not result.remark and len(result.payloads) == 1:
        return result.payloads[0]
    if isinstance(result, Ambiguous):
        labels = {c.payload: c.label for c in asked.choices}
        return [labels.get(p, p) for p in result.candidates]
    return None


def _process(
    data: bytes, faces: list[photos.Face], keep: set[int], max_bytes: int
) -> photos.Scrubbed:
    image = photos.decode(data, max_bytes=max_bytes)
    return photos.finish(photos.Prepared(image, faces), keep)


async def submit(turn: Turn) -> None:
    s, services = turn.state, turn.services
    media = media_of(services)
    keep_numbers = set(s.get("keep", []))
    new_photos, first = [], 1
    for photo in s.get("photos", []):
        faces = [photos.Face(*f) for f in photo["faces"]]
        keep = {i for i in range(len(faces)) if first + i in keep_numbers}
        first += len(faces)
        if media is None:
            break
        data = media.store.read(photo["original"])
        done = await asyncio.to_thread(
            _process, data, faces, keep, services.settings.media_max_bytes
        )
        processed = media.store.put(done.jpeg, PROCESSED, now=services.now)
        new_photos.append(
            NewPhoto(
                processed, photo["original"], done.faces, done.blurred, done.width, done.height
            )
        )
    try:
        submitted = await reports.submit(
            services,
            reporter_id=turn.person.id,
            privacy=s.get("privacy", NAMED),
            description=s.get("what", ""),
            location=s.get("where", ""),
            recognisable=s.get("recognisable"),
            consent=s.get("consent"),
            photos=new_photos,
        )
    except Refused as refused:  # a draft from before a limit changed: start again
        turn.end()
        turn.reply(turn.refusal(refused))
        return
    turn.end()
    if submitted.code is not None:
        # No report number: this message waits in the outbox under the reporter's account.
        turn.sealed = True  # the code leads to the report: encrypted until it is sent
        turn.reply(turn.t("report.submitted_anonymous", code=submitted.code))
    else:
        turn.reply(turn.t("report.submitted", id=submitted.report.id))
