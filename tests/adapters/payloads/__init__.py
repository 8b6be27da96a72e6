"""Recorded platform payloads: what Slack, Teams (the Bot Connector) and Twilio (WhatsApp)
post to us, as JSON files per platform, with placeholder ids.

Why files and not Python literals: a payload is data the platform decides, so it is kept in
the platform's own shape (field names, nesting, the fields we do not read) where it can be
compared side by side with the platform's documentation and its SDK's test fixtures (README.md
names what each was checked against). The builders in tests/fakes and the adapter tests start
from these and change only what a test is about; tests/adapters/test_payloads_<platform>.py
posts every one of them through the real adapter and states the Incoming it becomes.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
PLATFORMS = ("slack", "teams", "whatsapp")


@cache
def _text(platform: str, name: str) -> str:
    if platform not in PLATFORMS:
        raise ValueError(f"no recorded payloads for {platform!r}")
    return (HERE / platform / f"{name}.json").read_text(encoding="utf-8")


def load(platform: str, name: str, **overrides: Any) -> dict[str, Any]:
    """A fresh copy of payloads/<platform>/<name>.json with top-level fields replaced.

    Overrides replace whole top-level values (no deep merge), so a test states exactly the
    nested object it means; an override of None keeps the key with a JSON null."""
    payload = json.loads(_text(platform, name))
    if not isinstance(payload, dict):
        raise ValueError(f"{platform}/{name}.json is not an object")
    payload.update(overrides)
    return payload


def names(platform: str) -> list[str]:
    """The recorded payloads of one platform, by name (without .json)."""
    return sorted(p.stem for p in (HERE / platform).glob("*.json"))
