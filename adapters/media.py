"""Downloading a file a person sent, from the platform's own hosts only.

Platforms redirect media to CDNs (Twilio: api.twilio.com → media.twiliocdn.com), so redirects
are followed by hand: every hop's host must be on the allow-list, the platform's credentials
go only to the hosts that need them, and the body is streamed with a byte cap.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from urllib.parse import urljoin, urlsplit

import aiohttp

from bot.messages import DeliveryError

MAX_REDIRECTS = 5


class MediaRefused(DeliveryError):
    """The file cannot be fetched safely (wrong host, too big, too many redirects)."""


def host_allowed(url: str, allowed_hosts: Collection[str]) -> bool:
    """Exact host or a subdomain of an allowed host; http only for loopback (tests)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" and not (
        parts.scheme == "http" and host in ("127.0.0.1", "localhost")
    ):
        return False
    return any(host == h or host.endswith("." + h) for h in allowed_hosts)


async def fetch_capped(
    session: aiohttp.ClientSession,
    url: str,
    *,
    allowed_hosts: Collection[str],
    max_bytes: int,
    credentials: Mapping[str, str] | None = None,
    credential_hosts: Collection[str] = (),
    auth: aiohttp.BasicAuth | None = None,
) -> tuple[bytes, str]:
    """(body, content type). `credentials` (headers) and `auth` are sent only to hosts in
    `credential_hosts`; raises MediaRefused when a rule is broken."""
    for _hop in range(MAX_REDIRECTS + 1):
        if not host_allowed(url, allowed_hosts):
            raise MediaRefused(f"media host not allowed: {urlsplit(url).hostname}", permanent=True)
        trusted = host_allowed(url, credential_hosts)
        headers = dict(credentials or {}) if trusted else {}
        async with session.get(
            url,
            headers=headers,
            auth=auth if trusted else None,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=60),
        ) as resp:
            if resp.status in (301, 302, 303, 307, 308):
                location = resp.headers.get("Location")
                if not location:
                    raise MediaRefused("redirect without Location", permanent=True)
                url = urljoin(url, location)
                continue
            if resp.status != 200:
                raise MediaRefused(
                    f"media download failed: HTTP {resp.status}", permanent=resp.status < 500
                )
            if resp.content_length is not None and resp.content_length > max_bytes:
                raise MediaRefused(f"file larger than {max_bytes} bytes", permanent=True)
            body = bytearray()
            async for chunk in resp.content.iter_chunked(64 * 1024):
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise MediaRefused(f"file larger than {max_bytes} bytes", permanent=True)
            return bytes(body), resp.headers.get("Content-Type", "")
    raise MediaRefused("too many redirects", permanent=True)
