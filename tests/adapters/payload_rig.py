"""What the recorded-payload tests (tests/adapters/test_payloads_*.py) share: an EngineApi that
keeps what an adapter hands it, and settings without a database.

The adapters under test are the real ones behind a real aiohttp server on loopback; only the
engine is this recorder, so each test can state the exact Incoming (every field) that one
recorded platform payload becomes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.messages import Incoming, Outgoing


@dataclass
class Handled:
    duplicate: bool = False


@dataclass
class RecordingEngine:
    """The EngineApi an adapter talks to, keeping what it was given. An event id seen before
    is answered as a duplicate, as the real engine's inbound_events table does."""

    handled: list[Incoming] = field(default_factory=list)
    statuses: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    reactions: list[tuple[str, str, str, str | None, bool]] = field(default_factory=list)
    homes: list[tuple[str, str]] = field(default_factory=list)
    references: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    async def handle(self, incoming: Incoming) -> Handled:
        seen = any(h.event_id == incoming.event_id for h in self.handled)
        self.handled.append(incoming)
        return Handled(duplicate=seen)

    async def home(self, channel: str, account: str) -> Outgoing | None:
        self.homes.append((channel, account))
        return None

    async def record_reaction(
        self,
        channel: str,
        platform_message_id: str,
        reaction: str,
        *,
        account: str | None,
        added: bool,
    ) -> None:
        self.reactions.append((channel, platform_message_id, reaction, account, added))

    async def record_status(
        self, channel: str, platform_message_id: str, status: str, *, error: str | None
    ) -> None:
        self.statuses.append((channel, platform_message_id, status, error))

    async def store_reference(self, channel: str, account: str, reference: dict[str, Any]) -> None:
        self.references.append((channel, account, reference))


def bare_settings(tmp_path: Path, **update: Any) -> Settings:
    """Settings without a database: these tests never open one."""
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/unused.db",
        data_dir=tmp_path,
        secret_key="test-secret-key-that-is-long-enough-for-production",
        _env_file=None,  # type: ignore[call-arg]
    ).model_copy(update=update)
