"""Keyed hashes that stand in for identifiers we must recognise but must not keep.

A platform's event id can carry what a person chose (Slack builds a button press's id from the
user, the time and the button), so the dedupe register keeps only an HMAC of it: equal ids
give equal keys, and nobody without the secret key can test a guess. The key is the app's
secret, so every process of one installation computes the same key for the same event.
"""

from __future__ import annotations

import hashlib
import hmac

# 128 bits: collisions between distinct events are out of reach, and the column stays small.
DEDUPE_KEY_HEX = 32


def keyed_hash(secret: str, text: str) -> str:
    """128 bits of HMAC-SHA256: equal texts give equal keys; without the secret, a guess
    cannot be tested."""
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()[:DEDUPE_KEY_HEX]


def dedupe_key(secret: str, channel: str, event_id: str) -> str:
    """The register's key for one platform event: nothing of the event can be read from it."""
    return keyed_hash(secret, f"inbound\x00{channel}\x00{event_id}")
