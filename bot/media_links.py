"""Signed, expiring links to media files, for platforms that fetch images by URL.

Slack and Teams fetch image blocks and card images from our server without our cookies, and
Twilio fetches MediaUrl the same way; so a media link must be unguessable and short-lived.
Originals (unblurred faces) live an hour, processed photos a week.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import urlencode

from bot.config import Settings
from bot.text import ascii_int
from storage.media import ORIGINAL, media_kind

TTL_SECONDS = {"original": 3600, "processed": 7 * 24 * 3600}


def _signature(secret: str, media_id: str, expires: int) -> str:
    mac = hmac.new(secret.encode(), f"media:{media_id}:{expires}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:24]).decode().rstrip("=")


def media_url(settings: Settings, media_id: str, *, now: float | None = None) -> str:
    kind = media_kind(media_id)
    ttl = TTL_SECONDS["original" if kind == ORIGINAL else "processed"]
    expires = int((now if now is not None else time.time()) + ttl)
    query = urlencode({"exp": expires, "sig": _signature(settings.secret, media_id, expires)})
    return f"{settings.public_url.rstrip('/')}/media/{media_id}?{query}"


def link_valid(
    settings: Settings, media_id: str, expires: str, signature: str, *, now: float | None = None
) -> bool:
    """Whether the link is ours and still valid. Anything that is not an ASCII number of
    seconds or an ASCII signature is simply invalid (hmac.compare_digest refuses non-ASCII
    text with a TypeError)."""
    when = ascii_int(expires)
    if when is None or when < (now if now is not None else time.time()):
        return False
    if not signature.isascii():
        return False
    expected = _signature(settings.secret, media_id, when)
    return hmac.compare_digest(expected, signature)
