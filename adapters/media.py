"""Downloading a file a person sent, from the platform's own origins only.

Platforms redirect media to CDNs (Twilio: api.twilio.com → media.twiliocdn.com), so redirects
are followed by hand: every hop's origin (scheme, host and port) must be on the allow-list,
the platform's credentials go only to the origins that need them, and the body is streamed
with a byte cap.

An allow-list entry is either a host name, for the platforms' real hosts: https on port 443 at
that host or a subdomain of it; or an origin such as "http://127.0.0.1:8123", for an API URL
override (ACHTERBAN_SLACK_API_URL, ACHTERBAN_TWILIO_API_URL): exactly that scheme, host and
port. Comparing host names alone sent the bot's token to any port of an overridden host.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from urllib.parse import urljoin

import aiohttp
from yarl import URL

from bot.messages import DeliveryError

MAX_REDIRECTS = 5
DEFAULT_PORTS = {"http": 80, "https": 443}
# Plain http is for tests' fake platforms only, which listen on loopback.
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

Origin = tuple[str, str, int]


class MediaRefused(DeliveryError):
    """The file cannot be fetched safely (wrong origin, too big, too many redirects)."""


def _origin(url: str) -> Origin | None:
    """(scheme, host, port) of an http(s) URL, the port filled in; None if it has none.

    Parsed by yarl, as aiohttp parses the URL it then requests: no parser differential (such
    as "https://evil.example\\@files.slack.com/") can make the check see another host.
    """
    try:
        parsed = URL(url)
        port = parsed.port
    except (ValueError, TypeError):  # no valid URL, a port that is no number or out of range
        return None
    scheme, host = parsed.scheme.lower(), (parsed.host or "").lower()
    if scheme not in DEFAULT_PORTS or not host:
        return None
    return scheme, host, port if port is not None else DEFAULT_PORTS[scheme]


def origin(url: str) -> str:
    """The origin of a URL as an allow-list entry ("http://127.0.0.1:8123"); "" if none."""
    parts = _origin(url)
    if parts is None:
        return ""
    scheme, host, port = parts
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def host_allowed(url: str, allowed: Collection[str]) -> bool:
    """Whether the URL's origin is on the allow-list (host names or origins, see above);
    http only to loopback."""
    parts = _origin(url)
    if parts is None:
        return False
    scheme, host, port = parts
    if scheme != "https" and host not in LOOPBACK:
        return False
    for entry in allowed:
        if "://" in entry:
            if _origin(entry) == parts:
                return True
        elif scheme == "https" and port == 443:
            name = entry.lower()
            if name and (host == name or host.endswith("." + name)):
                return True
    return False


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
    """(body, content type). `credentials` (headers) and `auth` are sent only to origins in
    `credential_hosts`, checked again at every hop; raises MediaRefused when a rule is
    broken."""
    for _hop in range(MAX_REDIRECTS + 1):
        if not host_allowed(url, allowed_hosts):
            raise MediaRefused(f"media origin not allowed: {origin(url) or '?'}", permanent=True)
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
