"""The contract every channel adapter fulfils; adapters translate and never decide."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, runtime_checkable

import aiohttp
from aiohttp import web

from bot.messages import DeliveryError, Incoming, MediaRef, Outgoing, Recipient, SendResult
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


# A platform's clock against ours, when looking a message up by the time it was sent.
CLOCK_SKEW = timedelta(minutes=2)
# Errors after which the request may have been written and processed (not: refused to
# connect, which never left).
_IN_DOUBT_ERRORS = (
    TimeoutError,
    aiohttp.ServerDisconnectedError,
    aiohttp.ClientOSError,
    aiohttp.ClientPayloadError,
)


def mark_in_doubt(exc: DeliveryError) -> None:
    """Mark a transient failure whose request may have reached the platform. The delivery
    worker reads the mark only for a send with a reconcile key (bot.delivery.Reconcilable):
    it looks the message up before sending it again."""
    cause = exc.__cause__ or exc.__context__
    connect_failed = isinstance(cause, aiohttp.ClientConnectorError)
    if not exc.permanent and isinstance(cause, _IN_DOUBT_ERRORS) and not connect_failed:
        exc.extra["in_doubt"] = True


# The engine entry point as adapters see it. It raises bot.errors.StoreUnavailable when the
# database cannot be reached; adapters answer 503 then so the platform retries.
Handler = Callable[[Incoming], Awaitable[Any]]


class Handled(Protocol):
    """What adapters read of a handled event: whether it was a platform retry (for logging)."""

    @property
    def duplicate(self) -> bool: ...


class EngineApi(Protocol):
    """The engine as adapters see it (bot.engine.Engine implements it).

    Adapters translate only: they hand events and platform facts to these methods and never
    open a transaction or a repository themselves. Every method raises
    bot.errors.StoreUnavailable when the database cannot be reached."""

    async def handle(self, incoming: Incoming) -> Handled:
        """One platform event, in its own (or a grouped) transaction, deduplicated."""
        ...

    async def home(self, channel: str, account: str) -> Outgoing | None:
        """What is open for the person behind an account (a platform's home screen)."""
        ...

    async def record_reaction(
        self,
        channel: str,
        platform_message_id: str,
        reaction: str,
        *,
        account: str | None,
        added: bool,
    ) -> None:
        """A reaction on a message we sent (idempotent: platform retries are harmless)."""
        ...

    async def record_status(
        self, channel: str, platform_message_id: str, status: str, *, error: str | None
    ) -> None:
        """A platform's delivery status of a message we sent (WhatsApp's status callback)."""
        ...

    async def store_reference(self, channel: str, account: str, reference: dict[str, Any]) -> None:
        """A conversation reference the adapter obtained outside an event (Teams, after
        installing the app through Graph), so other processes' workers can write too."""
        ...


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
