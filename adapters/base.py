"""The contract every channel adapter fulfils; adapters translate and never decide."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from aiohttp import web

from bot.messages import Incoming, MediaRef, Outgoing, Recipient, SendResult
from bot.text import ascii_int

# The longest Retry-After a platform's answer may impose; a longer (or hostile) one is cut to
# this, so a delay never overflows a datetime.
MAX_RETRY_AFTER_SECONDS = 24 * 3600


def retry_after_value(value: object) -> float | None:
    """Retry-After in seconds: ASCII digits only (RFC 9110 delay-seconds), at most a day;
    None when absent or not a number (the HTTP-date form is the caller's to read)."""
    if not isinstance(value, str):
        return None
    seconds = ascii_int(value.strip())
    return None if seconds is None else float(min(seconds, MAX_RETRY_AFTER_SECONDS))


# The engine entry point as adapters see it. It raises bot.errors.StoreUnavailable when the
# database cannot be reached; adapters answer 503 then so the platform retries.
Handler = Callable[[Incoming], Awaitable[Any]]


@runtime_checkable
class Adapter(Protocol):
    """A channel: parses inbound requests, renders and sends outbound messages."""

    channel: str

    def render(self, outgoing: Outgoing) -> Any:
        """Turn an Outgoing into the platform's message (JSON-serialisable)."""

    async def send(self, recipient: Recipient, rendered: Any) -> SendResult:
        """Send to one platform account; raise bot.messages.DeliveryError on failure."""

    async def fetch_media(self, ref: MediaRef) -> bytes:
        """Download a file the person sent, from the platform's own hosts only."""


@dataclass(frozen=True, slots=True)
class Mount:
    """What a channel module gives the composition root: its adapter and its HTTP routes."""

    adapter: Adapter
    routes: Sequence[web.RouteDef] = ()
