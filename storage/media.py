"""The media store: files named by the SHA-256 of their content, never by anything the user sent.

Originals (what the person sent, metadata and all) are kept apart from processed files
(scrubbed, faces blurred): originals are for moderators only and are purged after the
retention period; processed files live as long as the report that uses them.

A media id is opaque outside this module: `o-<sha256>` for an original, `p-<sha256>` for a
processed file. The prefix lets a media endpoint refuse originals to anyone but moderators.
File times are set to the start of the UTC day, so that the store keeps no more precise time
than an anonymous report does.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Awaitable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol

from bot.messages import MediaRef

Kind = Literal["original", "processed"]
ORIGINAL: Kind = "original"
PROCESSED: Kind = "processed"
_PREFIX: dict[Kind, str] = {ORIGINAL: "o", PROCESSED: "p"}
_KIND = {v: k for k, v in _PREFIX.items()}
_ID = re.compile(r"^([op])-([0-9a-f]{64})$")

# Leading bytes of the formats the photo pipeline writes or accepts.
_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"RIFF", "image/webp"),
)


class MediaFetcher(Protocol):
    """Downloads a file a person sent, through the adapter of the channel it came from.

    The runtime builds one from its adapters (`adapters[channel].fetch_media(ref)`); tests
    pass one that reads local files. Dialogs never download anything themselves.
    """

    def __call__(self, channel: str, ref: MediaRef) -> Awaitable[bytes]: ...


class MediaError(Exception):
    """A media id that is malformed or names no stored file."""


def media_kind(media_id: str) -> Kind:
    match = _ID.match(media_id)
    if match is None:
        raise MediaError("malformed media id")
    return _KIND[match.group(1)]


def _day_start(when: datetime) -> float:
    day = when.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day.timestamp()


class MediaStore:
    """Files under `root/original/` and `root/processed/`, two hex levels deep."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, media_id: str) -> Path:
        """Where a media id lives; the id is checked, so it can never leave the store."""
        match = _ID.match(media_id)
        if match is None:
            raise MediaError("malformed media id")
        digest = match.group(2)
        return self.root / _KIND[match.group(1)] / digest[:2] / digest

    def put(self, data: bytes, kind: Kind, *, now: datetime | None = None) -> str:
        """Store bytes (once per content) and return their media id."""
        media_id = f"{_PREFIX[kind]}-{hashlib.sha256(data).hexdigest()}"
        path = self.path(media_id)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.chmod(tmp, 0o600)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        stamp = _day_start(now or datetime.now(UTC))
        os.utime(path, (stamp, stamp))
        return media_id

    def read(self, media_id: str) -> bytes:
        path = self.path(media_id)
        try:
            return path.read_bytes()
        except FileNotFoundError as exc:
            raise MediaError("no such media") from exc

    def exists(self, media_id: str) -> bool:
        return self.path(media_id).is_file()

    def content_type(self, media_id: str) -> str:
        head = self.read(media_id)[:12]
        for magic, content_type in _MAGIC:
            if head.startswith(magic):
                return content_type
        return "application/octet-stream"

    def delete(self, media_id: str) -> bool:
        path = self.path(media_id)
        existed = path.is_file()
        path.unlink(missing_ok=True)
        return existed

    def purge(self, kind: Kind, older_than: timedelta, now: datetime, keep: Iterable[str]) -> int:
        """Delete files of `kind` stored longer ago than `older_than`, except `keep`."""
        cutoff = _day_start(now) - older_than.total_seconds()
        kept = set(keep)
        base = self.root / kind
        removed = 0
        if not base.is_dir():
            return 0
        for path in base.glob("*/*"):
            if path.name.startswith(".tmp-"):
                continue
            media_id = f"{_PREFIX[kind]}-{path.name}"
            if media_id in kept or not _ID.match(media_id):
                continue
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed
