"""The Bot Connector's wire format for outgoing activities, and its error answers.

Activities go out as the JSON the renderer made, addressed with the stored conversation
reference (`addressed`), and msrest passes them through (`WireSerializer`); the connector's
error answers become DeliveryError (429 with its Retry-After, per conversation).
"""

from __future__ import annotations

import logging
from typing import Any

from botbuilder.schema import ErrorResponseException
from msrest.serialization import Serializer

from adapters.base import retry_after_value
from bot.messages import DeliveryError

log = logging.getLogger(__name__)

TRANSIENT_STATUSES = frozenset({401, 408, 412, 500, 502, 503, 504})


class WireActivity(dict[str, Any]):
    """An activity already in the Bot Connector's JSON (what msrest would make of the model).

    msrest turns a model into JSON attribute by attribute, with a key transformer and a type
    lookup each: for one Adaptive Card activity about 0.3 ms of CPU, and as much again to
    build the model from the rendered card and the stored reference, which are JSON already.
    A broadcast sends the same card to thousands of people, so the outbox's sends post the
    card's JSON as the renderer made it, addressed with the stored reference (`addressed`).
    """


class WireSerializer(Serializer):  # type: ignore[misc]
    """msrest's serializer, passing a `WireActivity` body through as it is."""

    def body(self, data: Any, data_type: str, **kwargs: Any) -> Any:
        if isinstance(data, WireActivity):
            return dict(data)
        return super().body(data, data_type, **kwargs)


# TurnContext.apply_conversation_reference for an outgoing activity, on the JSON of both:
# activity field ← reference field.
_ADDRESS = (
    ("channelId", "channelId"),
    ("locale", "locale"),
    ("serviceUrl", "serviceUrl"),
    ("conversation", "conversation"),
    ("from", "bot"),
    ("recipient", "user"),
)


def addressed(activity: dict[str, Any], reference: dict[str, Any]) -> WireActivity:
    """The rendered activity addressed to a stored conversation reference (the SDK's
    `ConversationReference.serialize()`), as the SDK addresses a proactive message; a test
    holds it to msrest's serialization of the same models."""
    wire = WireActivity(activity)
    for field, source in _ADDRESS:
        value = reference.get(source)
        if value is None:
            wire.pop(field, None)
        else:
            wire[field] = value
    if reference.get("activityId"):
        wire["replyToId"] = reference["activityId"]
    return wire


def status_of(exc: ErrorResponseException) -> int:
    return int(getattr(exc.response, "status_code", 0) or 0)


def delivery_error(exc: ErrorResponseException) -> DeliveryError:
    status = status_of(exc)
    error = getattr(getattr(exc, "error", None), "error", None)
    code = getattr(error, "code", None) or ""
    reason = f"Teams connector HTTP {status} {code}".strip()
    log.warning("teams send failed", extra={"status": status, "code": code})
    if status == 429:
        headers = getattr(exc.response, "headers", None) or {}
        # Teams limits sends per bot and conversation ("thread"): pause only this one.
        retry_after = connector_retry_after(headers.get("Retry-After"))
        return DeliveryError(reason, retry_after=retry_after, extra={"scope": "conversation"})
    if status in (403, 404):
        # 403 MessageWritesBlocked: the person blocked or uninstalled the app.
        return DeliveryError(reason, permanent=True)
    return DeliveryError(reason, permanent=status not in TRANSIENT_STATUSES and status < 500)


def connector_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the Bot Connector does not send the HTTP-date form)."""
    return retry_after_value(value)
