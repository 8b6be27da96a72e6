"""Reading multipart forms (file uploads) safely: CSRF token first, every part capped.

The server's body limit (1 MiB) protects the webhooks; uploads (a roster, a photo) may be
larger, so they are streamed here with their own caps instead of being read whole. The CSRF
token must be the first field, so a forged upload is refused before a byte of it is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import BodyPartReader, web

from bot.config import Settings
from bot.web.auth import CSRF_FIELD, csrf_valid

FIELD_MAX = 20_000
MAX_PARTS = 20
CHUNK = 64 * 1024


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


async def _read_capped(part: BodyPartReader, cap: int) -> bytes | None:
    """The part's bytes, or None as soon as it passes `cap` (the rest is not kept)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(CHUNK):
        size += len(chunk)
        if size > cap:
            while await part.read_chunk(CHUNK):
                pass  # drain the rest of this part without keeping it
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def read_upload(
    request: web.Request,
    settings: Settings,
    session_token: str | None,
    *,
    file_field: str,
    max_bytes: int,
) -> Upload:
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
            data = await _read_capped(part, max_bytes)
            if data is None:
                upload.too_large = True
            elif data:
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
