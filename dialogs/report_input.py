"""The report dialog's reading of what arrives: photos (fetched, checked and stored as
originals), the caption sent with them (the description, issue 13), and typed answers to its
buttons as colleagues type them. Split from dialogs/unsafe_report.py, which holds the steps.
"""

from __future__ import annotations

import asyncio
import logging

from bot import photos
from bot.conversation import Turn
from bot.understand.answers import Matched, understand_answer
from bot.usecases import Refused
from bot.usecases.reports import MAX_TEXT, check_text
from dialogs.report_moderation import media_of
from storage.media import ORIGINAL

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


async def typed_choice(turn: Turn) -> str | None:
    """A typed answer to this dialog's buttons as colleagues type it ("ja hoor", "nee",
    "de tweede"), only when it is wholly an answer and fits one button."""
    asked = await turn.last_asked()
    if asked is None or not asked.choices:
        return None
    result = understand_answer(turn.text, asked.choices, multiple=asked.multiple)
    if isinstance(result, Matched) and not result.remark and len(result.payloads) == 1:
        return result.payloads[0]
    return None
