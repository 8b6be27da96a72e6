"""Slack's Web API client as this bot uses it: slack_sdk's AsyncWebClient with our token and
API base URL, a bounded rate-limit retry, a quiet SDK logger, and Slack's answers mapped to
DeliveryError (429 with its Retry-After, transient or permanent). No message logic.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.base import retry_after_value
from bot.config import Settings
from bot.errors import ConfigError
from bot.messages import DeliveryError

SLACK_API_URL = "https://slack.com/api/"
# A 429 with a short Retry-After is waited out inline; a longer one goes back to the outbox,
# which reschedules the message instead of holding a delivery worker.
INLINE_RATE_LIMIT_WAIT = 5.0
SDK_LOGGER = "slack_sdk.web.async_base_client"


class BoundedRateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's rate-limit retry, only while Retry-After is at most `max_wait` seconds."""

    def __init__(self, max_wait: float, max_retry_count: int = 1) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    async def _can_retry_async(self, **kwargs: Any) -> bool:
        response = kwargs.get("response")
        wait = retry_after(response.headers if response is not None else None)
        return await super()._can_retry_async(**kwargs) and (wait is None or wait <= self.max_wait)


def web_client(
    settings: Settings,
    session: aiohttp.ClientSession,
    *,
    rate_limit_wait: float = INLINE_RATE_LIMIT_WAIT,
    rate_limit_retries: int = 1,
) -> AsyncWebClient:
    """slack_sdk's client for our token and API base URL (ACHTERBAN_SLACK_API_URL in tests).

    The rate-limit retry handler is opt-in in slack_sdk; every client of ours has it.
    """
    if settings.slack_bot_token is None:
        raise ConfigError("SLACK_BOT_TOKEN is not set")
    handlers: list[AsyncRetryHandler] = [AsyncConnectionErrorRetryHandler()]
    handlers.append(BoundedRateLimitRetry(rate_limit_wait, rate_limit_retries))
    token = settings.slack_bot_token.get_secret_value()
    return AsyncWebClient(
        token=token,
        base_url=api_base_url(settings),
        session=session,
        retry_handlers=handlers,
        logger=sdk_logger(),
    )


def sdk_logger() -> logging.Logger:
    """slack_sdk's logger, with its level set to the one it has in effect.

    slack_sdk formats a debug line of every request and response (headers and body) whenever
    its logger's own level is at most DEBUG — it tests `logger.level`, not `isEnabledFor` —
    and a logger nobody configured has level NOTSET (0). That costs more CPU than the request.
    """
    parent = logging.getLogger(SDK_LOGGER)
    logger = logging.getLogger(SDK_LOGGER + ".achterban")
    logger.setLevel(parent.getEffectiveLevel())
    return logger


def api_base_url(settings: Settings) -> str:
    url = settings.slack_api_url or SLACK_API_URL
    return url if url.endswith("/") else url + "/"


def error_name(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or exc.response.status_code)
    return type(exc).__name__


# ok:false answers that a retry may cure; any other ok:false at HTTP 200 is permanent.
TRANSIENT_ERRORS = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}
# chat.update cannot change that message any more: send the answer as a new message.
UPDATE_FALLBACK_ERRORS = {"message_not_found", "cant_update_message", "edit_window_closed"}


def retry_after(headers: Any) -> float | None:
    """Seconds from a Retry-After header (aiohttp headers, or slack_sdk's dict of lists)."""
    for key in headers or {}:
        if key.lower() == "retry-after":
            value = headers[key]
            return retry_after_value(value[0] if isinstance(value, list) and value else value)
    return None


@contextmanager
def delivery_errors(method: str) -> Iterator[None]:
    """Slack's answers as DeliveryError: 429 with its Retry-After, 5xx and network errors
    transient, a deterministic ok:false permanent. Never the token or the message body."""
    try:
        yield
    except SlackApiError as exc:
        status = exc.response.status_code
        error = str(exc.response.get("error") or "") if isinstance(exc.response.data, dict) else ""
        reason = f"slack {method}: {error or f'HTTP {status}'}"
        if status == 429:
            raise DeliveryError(reason, retry_after=retry_after(exc.response.headers)) from None
        permanent = status == 200 and bool(error) and error not in TRANSIENT_ERRORS
        raise DeliveryError(reason, permanent=permanent, extra={"error": error}) from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise DeliveryError(f"slack {method}: {type(exc).__name__}") from None
