"""Sealed messages: the few messages that must repeat an anonymous act to the person who did
it (the secret code of a fully anonymous report, the colleague they are nominating in an
anonymous round) wait in the outbox and the web chat mailbox encrypted.

Whoever reads the database sees a token; only the running application, which holds the
secret key (never stored in the database), opens it to send it. The body is erased once sent,
as every outbox body is. See docs/privacy.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

SEALED = "sealed"
# A token's length follows its body's: unpadded, a sealed "you nominate <name>" would tell
# whoever reads the database how long the name is, and so, often, whom. Every body is padded
# with blanks (which JSON ignores) to a multiple of this many bytes, so the sealed messages
# of one kind (a nomination, a secret code, a survey's summary) all have one length.
PADDED = 4096


class Sealer:
    def __init__(self, secret: str) -> None:
        key = hashlib.sha256(f"achterban seal\x00{secret}".encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload, ensure_ascii=False).encode()
        body += b" " * (-len(body) % PADDED)
        return {SEALED: self._fernet.encrypt(body).decode("ascii")}

    def open(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The payload itself when it was never sealed; raises ValueError for a token that
        another key sealed (a rotated secret key), so the caller can fail that one message."""
        token = payload.get(SEALED)
        if not isinstance(token, str):
            return payload
        try:
            return dict(json.loads(self._fernet.decrypt(token.encode("ascii"))))
        except InvalidToken as exc:
            raise ValueError("sealed with another secret key") from exc
