"""What channel adapters share: Retry-After and in-doubt handling, and (re-exported from
bot/ports.py) the contract every adapter fulfils; adapters translate and never decide."""

from __future__ import annotations

from datetime import timedelta

import aiohttp

from bot.messages import DeliveryError
from bot.ports import Adapter, EngineApi, Handled, Handler, Mount
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


__all__ = [
    "CLOCK_SKEW",
    "MAX_RETRY_AFTER_SECONDS",
    "Adapter",
    "EngineApi",
    "Handled",
    "Handler",
    "Mount",
    "mark_in_doubt",
    "retry_after_value",
]
