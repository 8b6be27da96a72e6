"""Reading multipart forms (file uploads) safely: CSRF token first, every part capped.

The server's body limit (1 MiB) protects the webhooks; uploads (a roster, a photo) may be
larger, so they are streamed here with their own caps instead of being read whole. The CSRF
token must be the first field, so a forged upload is refused before a byte of it is stored;
a caller's `admit_file` may refuse the file itself (a quota) before its bytes are kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import BodyPartReader, web

from bot.config import Settings
from bot.web.auth import CSRF_FIELD, csrf_valid

FIELD_MAX = 20_000
MAX_PARTS = 20
CHUNK = 64 * 1024
# ASCII digits only: str.isdigit() accepts "¹" (int() then raises) and int() reads "٣" as 3.
_ASCII_NUMBER = re.compile(r"[0-9]{1,17}")


def ascii_int(value: object) -> int | None:
    """A form value as a non-negative number, if it is 1 to 17 ASCII digits (fits 64 bits)."""
    if isinstance(value, str) and _ASCII_NUMBER.fullmatch(value):
        return int(value)
    return None


@dataclass
class Upload:
    csrf_ok: bool = False
    fields: dict[str, str] = field(default_factory=dict)
    # Every value of fields that occur more than once (checkboxes with one name).
    lists: dict[str, list[str]] = field(default_factory=dict)
    data: bytes | None = None
    filename: str = ""
    content_type: str = ""
    too_large: bool = False
    # The catalogue key `admit_file` refused the file with (its bytes were not kept).
    refused: str | None = None


async def _drain(part: BodyPartReader) -> None:
    """Read the rest of a part without keeping it (the next part starts after it)."""
    while await part.read_chunk(CHUNK):
        pass


async def _read_capped(part: BodyPartReader, cap: int, first: bytes = b"") -> bytes | None:
    """The part's bytes, or None as soon as it passes `cap` (the rest is not kept)."""
    chunks: list[bytes] = [first] if first else []
    size = len(first)
    while size <= cap and (chunk := await part.read_chunk(CHUNK)):
        size += len(chunk)
        chunks.append(chunk)
    if size > cap:
        await _drain(part)
        return None
    return b"".join(chunks)


async def read_upload(
    request: web.Request,
    settings: Settings,
    session_token: str | None,
    *,
    file_field: str,
    max_bytes: int,
    admit_file: Callable[[], str | None] | None = None,
) -> Upload:
    """The form's fields and its one file. `admit_file` is asked once, when a non-empty file
    part starts: None lets it in, a catalogue key refuses it unread (`Upload.refused`)."""
    upload = Upload()
    if not request.content_type.startswith("multipart/form-data"):
        return upload
    reader = await request.multipart()
    first = await reader.next()
    if not isinstance(first, BodyPartReader) or first.name != CSRF_FIELD:
        return upload
    token = await _read_capped(first, 200)
    if token is None or not csrf_valid(settings, session_token, token.decode("ascii", "replace")):
        return upload
    upload.csrf_ok = True
    for _ in range(MAX_PARTS):
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader) or not part.name:
            continue
        if part.name == file_field and part.filename is not None:
            head = await part.read_chunk(CHUNK)
            if not head:
                continue  # the file field left empty (a form sent without a file)
            if upload.data is not None or upload.too_large or upload.refused:
                await _drain(part)  # one file per form
                continue
            if admit_file is not None and (refused := admit_file()) is not None:
                upload.refused = refused
                await _drain(part)
                continue
            data = await _read_capped(part, max_bytes, head)
            if data is None:
                upload.too_large = True
            else:
                upload.data = data
                upload.filename = part.filename[:200]
                upload.content_type = part.headers.get("Content-Type", "")[:100]
            continue
        value = await _read_capped(part, FIELD_MAX)
        if value is not None:
            text = value.decode("utf-8", "replace")
            upload.fields[part.name] = text
            upload.lists.setdefault(part.name, []).append(text)
    return upload
