"""A respondent's answers so far, and the seal that keeps them unreadable while stored.

While someone works through a survey their answers must be kept somewhere (they may pause
and come back on another channel), and that place knows who they are: the participation
register row. So the answers are stored there only as a Fernet token (bot/seal.py) under a
key derived from the server's secret key through the keyed hash (`Services.pseudonym`), which
never reaches the database. Whoever reads the database or a backup sees a token; the running
application opens it on the person's next answer. The token is erased when they finish (the
answers then move, without the person, into an anonymous response) and when the survey
closes. docs/privacy.md says why this cannot be linked.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.seal import SEALED, Sealer

# What the keyed hash is asked for: the key of the seal of survey progress.
_KEY_LABEL = "survey progress seal"


@dataclass(frozen=True, slots=True)
class Given:
    """One question's answer: `numbers` (option positions from 1, or the scale value),
    `text` (open text or "waarom?"); both None when the person skipped the question."""

    numbers: list[int] | None = None
    text: str | None = None

    @property
    def skipped(self) -> bool:
        return self.numbers is None and self.text is None

    def to_json(self) -> dict[str, Any]:
        return {"n": self.numbers, "t": self.text}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Given:
        numbers = data.get("n")
        return cls([int(n) for n in numbers] if numbers is not None else None, data.get("t"))


@dataclass
class Progress:
    """Answers so far, per question position (1-based)."""

    given: dict[int, Given] = field(default_factory=dict)

    def next_position(self, count: int) -> int | None:
        """The first question not yet answered or skipped; None when all are."""
        for position in range(1, count + 1):
            if position not in self.given:
                return position
        return None


def sealer_of(pseudonym: Callable[[str], str]) -> Sealer:
    """The seal, keyed by the server's secret through its keyed hash (128 bits)."""
    return Sealer(pseudonym(_KEY_LABEL))


def seal(sealer: Sealer, progress: Progress) -> str:
    body = {str(k): v.to_json() for k, v in sorted(progress.given.items())}
    return str(sealer.seal({"given": body})[SEALED])


def unseal(sealer: Sealer, token: str | None) -> Progress:
    """The progress in a token; an empty one for none, or for a token another secret key
    sealed (a rotated key: the person starts again rather than the bot failing)."""
    if not token:
        return Progress()
    try:
        data = sealer.open({SEALED: token})
    except ValueError:
        return Progress()
    given = data.get("given") or {}
    return Progress({int(k): Given.from_json(v) for k, v in given.items()})


# --- an anonymous response's groups, sealed until the survey closes -------------------------
#
# Not Fernet: a Fernet token carries the time it was made, and a response's finishing time
# would match the outbox row of the summary sent to its author. AES-GCM with a random nonce
# carries no time, and equal groups give unequal tokens (no counting of equal values).
_GROUPS_LABEL = "survey groups seal"
_NONCE = 12
# AES-GCM does not pad: the token's length would follow the names' length and tell a
# department from another. Every body is padded with blanks (which JSON ignores) to a
# multiple of this many bytes, so all tokens are the same length.
_PADDED = 1024


def _groups_key(pseudonym: Callable[[str], str]) -> AESGCM:
    return AESGCM(hashlib.sha256(pseudonym(_GROUPS_LABEL).encode()).digest())


def seal_groups(
    pseudonym: Callable[[str], str], department: str | None, location: str | None
) -> str:
    nonce = os.urandom(_NONCE)
    body = json.dumps([department, location], ensure_ascii=False).encode()
    body += b" " * (-len(body) % _PADDED)
    token = nonce + _groups_key(pseudonym).encrypt(nonce, body, None)
    return base64.urlsafe_b64encode(token).decode("ascii")


def open_groups(
    pseudonym: Callable[[str], str], token: str | None
) -> tuple[str | None, str | None]:
    """(department, location); (None, None) for no token or one another key sealed."""
    if not token:
        return None, None
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii"))
        body = _groups_key(pseudonym).decrypt(raw[:_NONCE], raw[_NONCE:], None)
        department, location = json.loads(body)
    except (InvalidTag, ValueError, TypeError):
        return None, None
    return department, location


__all__ = [
    "Given", "Progress", "open_groups", "seal", "seal_groups", "sealer_of", "unseal",
]  # fmt: skip
