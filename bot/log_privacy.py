"""What a log line may say about a person: nothing that names them, only short keyed hashes.

Logs leave the database's protection (they are shipped, kept and read by operators), and
`person forget` cannot reach them. So a log line carries no message bodies, names, e-mail
addresses or phone numbers, and a platform id (Slack U…, Teams 29:…, whatsapp:+31…) only as
`pseudonym(id)`: the same id gives the same ten hex digits, so an operator can follow one
account through the log, but without the app's secret key nobody can test a guess.

Three layers, each a defence if the one before it fails:
1. extras by name: `text`, `body`, `name`, `email`, `phone` … are dropped, `account`, `user`,
   `sender` … are replaced by their pseudonym;
2. known body dumps of the SDKs (bolt logs the whole request when a signature fails) are cut
   to their first words;
3. free text (messages, exception texts, other extras) is scrubbed of e-mail addresses, phone
   numbers, platform ids and the values SQL drivers quote from a failed statement, and clipped.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
import secrets
from collections.abc import Mapping
from typing import Any

PSEUDONYM_HEX = 10
CUT_MARK = "…[cut]"
# A clipped text is scrubbed over this much more than it keeps, without the last token, so an
# address or id that the clip would halve is never left half-recognisable.
_MARGIN = 256

# Extras that carry what a person wrote or who they are: never logged.
DROPPED = frozenset(
    {
        "text", "body", "name", "email", "phone", "content", "payload", "message_text",
        "display_name", "real_name", "full_name", "first_name", "last_name", "profile",
        "address", "upn", "user_principal_name",
    }
)  # fmt: skip
# Extras that hold a platform id (or another handle of one person): logged as pseudonyms.
PSEUDONYMISED = frozenset(
    {
        "account", "platform_id", "user", "user_id", "sender", "recipient", "from", "to",
        "from_", "author", "member", "aad_object_id", "conversation", "channel_account",
    }
)  # fmt: skip

_PSEUDONYM = re.compile(rf"[0-9a-f]{{{PSEUDONYM_HEX}}}")
# Characters an address, number or id may continue with: a window is cut back to the last
# character outside this class, so no half of one reaches the scrubber.
_TOKEN_TAIL = re.compile(r"(?<![\w.%+\-@:])[\w.%+\-@:]++\Z")
_TOKEN_HEAD = re.compile(r"\A[\w.%+\-@:]++")

_IDENTIFIERS = re.compile(
    "|".join(
        (
            # e-mail; it starts only where a word starts, and never backtracks: linear time
            r"(?<![\w.%+\-])[\w.%+\-]++@[\w\-]++(?:\.[\w\-]++)+",
            r"whatsapp:\+?\d{6,15}",  # Twilio's WhatsApp address
            r"\b29:[\w\-]{6,}",  # Teams user id
            r"\b8:orgid:[0-9A-Fa-f\-]{36}",  # Teams (Graph) user id
            r"\ba:[\w\-]{16,}",  # Teams personal conversation id
            r"\b[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}\b",  # Entra object id
            r"\b[UWD](?=[A-Z0-9]*\d)[A-Z0-9]{8,12}\b",  # Slack user and DM channel ids
            r"\+[1-9](?:[ \-]?\d){6,14}\b",  # E.164 phone number
            r"\b0[1-9](?:[ \-]?\d){8}\b",  # Dutch phone number (06…, 040…)
            r"\b(?:00)?316\d{8}\b",  # Dutch mobile number as WhatsApp's WaId (no +)
        )
    )
)
# What SQL drivers quote from a failed statement: the bound values and the offending row.
_SQL_VALUES = (
    (re.compile(r"\[parameters: [^\n]*"), "[parameters withheld]"),
    (re.compile(r"(Key \([^)\n]*\)=\()[^\n]*?(\) (?:already exists|is not present))"), r"\1…\2"),
    (re.compile(r"Failing row contains \([^\n]*"), "Failing row contains (…)"),
)

# SDK log lines that repeat the request: (logger prefix, message prefix). Only the prefix is
# kept. bolt logs the whole body when a signature fails, also for a validly signed request
# that arrives too late, so an unsigned 1 MB POST put 1 MB in the log.
WITHHELD = (
    ("slack_bolt", "Invalid request signature detected"),
    ("slack_bolt", "request body:"),
    ("slack_bolt", "Request body:"),
    ("slack_bolt", "Unhandled request"),
    ("slack_bolt", "A global middleware"),
    ("slack_bolt", "Skipped self event"),
)

_key: bytes = secrets.token_bytes(32)  # until `use_secret`: stable within this process only


def use_secret(secret: str) -> None:
    """Key pseudonyms with the app's secret, so every process of one installation agrees.

    Derived, not the secret itself: a pseudonym must not help anyone forge a session or link.
    """
    global _key
    _key = hmac.new(secret.encode(), b"achterban log pseudonym", hashlib.sha256).digest()


def pseudonym(value: object) -> str:
    """Ten hex digits that stand for `value` (a platform id, an address) in the log."""
    digest = hmac.new(_key, str(value).encode(), hashlib.sha256).hexdigest()
    return digest[:PSEUDONYM_HEX]


def scrub(text: str) -> str:
    """`text` with e-mail addresses, phone numbers and platform ids replaced by pseudonyms,
    and the values an SQL error quotes left out."""
    for pattern, replacement in _SQL_VALUES:
        text = pattern.sub(replacement, text)
    return _IDENTIFIERS.sub(lambda match: pseudonym(match.group(0)), text)


def clip(text: str, limit: int, *, keep_tail: int = 0) -> str:
    """`text` scrubbed and at most about `limit` characters: its head, and its last
    `keep_tail` characters (where a traceback says what went wrong), with a mark between."""
    if len(text) <= limit:
        return scrub(text)
    head_limit = limit - keep_tail
    head = _TOKEN_TAIL.sub("", text[: head_limit + _MARGIN])
    kept = scrub(head)[:head_limit] + CUT_MARK
    if keep_tail:
        tail = _TOKEN_HEAD.sub("", text[-(keep_tail + _MARGIN) :])
        kept += scrub(tail)[-keep_tail:]
    return kept


def withhold(logger: str, message: str) -> str:
    """An SDK's line that repeats a request, without the request."""
    for prefix, start in WITHHELD:
        if logger.startswith(prefix) and message.startswith(start):
            return f"{start} (request withheld)"
    return message


def redact(key: str, value: Any, limit: int, depth: int = 0) -> Any:
    """One extra as it may be logged; `DROP` when it may not be logged at all. The rules
    hold inside dictionaries too (a few levels deep, a few keys wide)."""
    lowered = key.lower()
    if lowered in DROPPED:
        return DROP
    if value is None or isinstance(value, bool | int | float):
        return value
    if lowered in PSEUDONYMISED:
        text = str(value)
        return text if _PSEUDONYM.fullmatch(text) else pseudonym(text)
    if isinstance(value, Mapping) and depth < 2:
        inner = {str(k)[:64]: redact(str(k), v, limit, depth + 1) for k, v in _first(value)}
        return {k: v for k, v in inner.items() if v is not DROP}
    return clip(str(value), limit)


def _first(mapping: Mapping[Any, Any], count: int = 20) -> list[tuple[Any, Any]]:
    """The first `count` items, without copying a mapping of any size."""
    return list(itertools.islice(mapping.items(), count))


DROP = object()
