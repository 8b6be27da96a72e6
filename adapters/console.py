"""The terminal channel: `achterban chat --as EMAIL`. Choices become a numbered list."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import TextIO

from bot.messages import DeliveryError, Incoming, MediaRef, Outgoing, Profile, Recipient, SendResult

CHANNEL = "console"
MAX_MEDIA_BYTES = 20 * 1024 * 1024


class ConsoleAdapter:
    channel = CHANNEL

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout

    def parse(self, line: str, email: str, *, locale: str | None = None) -> Incoming:
        account = email.strip().lower()
        return Incoming(
            channel=CHANNEL,
            event_id=uuid.uuid4().hex,
            account=account,
            text=line.rstrip("\n"),
            locale=locale,
            profile=Profile(email=account),
        )

    def render(self, outgoing: Outgoing) -> str:
        lines = [outgoing.text]
        if outgoing.choices:
            lines.append("")
            lines += [f"  {i}. {c.label}" for i, c in enumerate(outgoing.choices, start=1)]
        return "\n".join(lines)

    async def send(self, recipient: Recipient, rendered: str) -> SendResult:
        try:
            print(f"\n{rendered}\n", file=self.out, flush=True)
        except OSError as exc:
            raise DeliveryError(f"terminal closed: {exc}") from exc
        return SendResult()

    async def fetch_media(self, ref: MediaRef) -> bytes:
        """A local file named by the person at the terminal, capped in size."""
        return await asyncio.to_thread(_read_capped, Path(ref.url.removeprefix("file://")))


def _read_capped(path: Path) -> bytes:
    if not path.is_file() or path.stat().st_size > MAX_MEDIA_BYTES:
        raise DeliveryError("file missing or too large", permanent=True)
    return path.read_bytes()
