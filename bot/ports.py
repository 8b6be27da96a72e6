"""The contract between the core and the channels: what an adapter offers the delivery worker
(`Adapter`), what a channel module gives the composition root (`Mount`), and the engine as
adapters see it (`EngineApi`). The core depends on these, never on an adapter module."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from aiohttp import web

from bot.messages import Incoming, MediaRef, Outgoing, Recipient, SendResult

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
