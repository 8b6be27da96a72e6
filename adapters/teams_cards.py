"""The Teams wire format, without the SDK: Adaptive Cards out, activity contents in.

Rendering and reading live together because they share one contract: the `data` of our
Action.Submit buttons and the id of the multi-select input (Teams posts a submit as a message
activity with no text and `value` = the button's data merged with the card's inputs). Nothing
here imports botbuilder; the readers use only the Activity schema's attribute names (the
Microsoft 365 Agents SDK's Activity model has the same snake_case names), so this file should
survive the port to that SDK (see docs/teams.md).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from bot.messages import PAYLOAD_JOIN, Choice, MediaRef, Outgoing

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = "1.4"  # what Teams renders on desktop, web and mobile
PAYLOAD_KEY = "payload"  # Action.Submit data of a single-choice button
CHOICES_INPUT = "choices"  # id of the multi-select Input.ChoiceSet
MULTIPLE_KEY = "multiple"  # Action.Submit data of the multi-select submit button
# Teams folds card-level actions beyond this many into an overflow menu; longer lists of
# choices are stacked as one ActionSet each, so every option stays visible.
MAX_CARD_ACTIONS = 5
# Input.ChoiceSet joins the selected values with commas (Adaptive Cards spec).
CHOICESET_SEPARATOR = ","
FILE_DOWNLOAD_INFO = "application/vnd.microsoft.teams.file.download.info"
_MENTION = re.compile(r"<at>.*?</at>", re.IGNORECASE | re.DOTALL)
_IMAGE_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "heic": "image/heic",  # iPhone photos: the photo pipeline converts or explains
}


def render(outgoing: Outgoing, media_url: Callable[[str], str]) -> dict[str, Any]:
    """{"activity": the Bot Framework message activity, "replaces": activity id or None}."""
    body: list[dict[str, Any]] = _text_blocks(outgoing.text)
    body += [
        {"type": "Image", "url": media_url(media_id), "size": "Stretch"}
        for media_id in outgoing.images
    ]
    actions: list[dict[str, Any]] = []
    choices = outgoing.choices
    if choices and outgoing.multiple:
        body.append(_choice_set(choices))
        actions.append(
            {
                "type": "Action.Submit",
                "title": outgoing.submit_label or "OK",
                "data": {MULTIPLE_KEY: True},
            }
        )
    elif len(choices) <= MAX_CARD_ACTIONS:
        actions = [_submit(c) for c in choices]
    else:
        body += [{"type": "ActionSet", "actions": [_submit(c)]} for c in choices]
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "body": body,
    }
    if actions:
        card["actions"] = actions
    first_line = next((line for line in outgoing.text.splitlines() if line.strip()), "")
    activity = {
        "type": "message",
        # Shown in notifications and the chat list, where a card has no text of its own.
        "summary": first_line[:120],
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "content": card}],
    }
    return {"activity": activity, "replaces": outgoing.replaces}


def submitted_choice(value: object) -> str | None:
    """The choice payload of a card submission (`activity.value`), or None if it is not ours.

    A multi-select submission becomes the selected payloads joined by PAYLOAD_JOIN, the form
    the engine expects from every channel.
    """
    if not isinstance(value, dict):
        return None
    payload = value.get(PAYLOAD_KEY)
    if isinstance(payload, str) and payload:
        return payload
    selected = value.get(CHOICES_INPUT)
    if value.get(MULTIPLE_KEY) and isinstance(selected, str):
        parts = [p.strip() for p in selected.split(CHOICESET_SEPARATOR) if p.strip()]
        return PAYLOAD_JOIN.join(parts) or None
    return None


def _text_blocks(text: str) -> list[dict[str, Any]]:
    """One TextBlock per line: Teams does not reliably render single newlines inside a
    TextBlock, and a blank line becomes extra spacing before the next block."""
    blocks: list[dict[str, Any]] = []
    gap = False
    for line in text.splitlines():
        if not line.strip():
            gap = bool(blocks)
            continue
        block: dict[str, Any] = {"type": "TextBlock", "text": line, "wrap": True}
        if not blocks and "\n" in text.strip():
            block["weight"] = "Bolder"  # the first line is the message's title
        elif blocks:
            block["spacing"] = "Medium" if gap else "None"
        blocks.append(block)
        gap = False
    return blocks


def _submit(choice: Choice) -> dict[str, Any]:
    return {"type": "Action.Submit", "title": choice.label, "data": {PAYLOAD_KEY: choice.payload}}


def _choice_set(choices: tuple[Choice, ...]) -> dict[str, Any]:
    return {
        "type": "Input.ChoiceSet",
        "id": CHOICES_INPUT,
        "isMultiSelect": True,
        "style": "expanded",
        "isRequired": True,
        "choices": [{"title": c.label, "value": c.payload} for c in choices],
    }


# -- reading activities (attribute names as in botbuilder.schema.Activity) ----------------


def activity_kind(activity: Any) -> str | None:
    """'message', 'install' (the bot was added), 'reaction', or None for what we ignore."""
    if activity.type == "message":
        return "message"
    if activity.type == "messageReaction":
        return "reaction"
    if activity.type == "conversationUpdate":
        bot_id = activity.recipient.id if activity.recipient else None
        if any(m.id == bot_id for m in activity.members_added or ()):
            return "install"
    if activity.type == "installationUpdate" and activity.action in ("add", "add-upgrade"):
        return "install"
    return None


def is_personal(conversation: Any) -> bool:
    """A 1:1 chat with the bot (the Emulator sends no conversationType: not a group, then)."""
    if conversation is None:
        return False
    if conversation.conversation_type:
        return bool(conversation.conversation_type == "personal")
    return not conversation.is_group


def tenant_of(activity: Any) -> str | None:
    """channelData.tenant.id, else the conversation's tenantId. botbuilder-schema maps
    ConversationAccount.tenant_id to the key `tenantID`, so the `tenantId` Teams sends lands
    in the model's additional_properties: both are read."""
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = data.get("tenant")
    if isinstance(tenant, dict) and tenant.get("id"):
        return str(tenant["id"])
    conversation = activity.conversation
    if conversation is None:
        return None
    extra = getattr(conversation, "additional_properties", None) or {}
    found = conversation.tenant_id or extra.get("tenantId")
    return found if isinstance(found, str) and found else None


def clean_text(text: str | None) -> str:
    """The typed text without the @mention of the bot (`<at>name</at>`)."""
    return _MENTION.sub("", text or "").strip()


def attachments(activity: Any) -> tuple[MediaRef, ...]:
    """Files (downloadUrl of file.download.info) and inline images (contentUrl)."""
    refs = []
    for attachment in activity.attachments or ():
        content = attachment.content if isinstance(attachment.content, dict) else {}
        if attachment.content_type == FILE_DOWNLOAD_INFO and content.get("downloadUrl"):
            file_type = str(content.get("fileType") or "").lower()
            mime = _IMAGE_TYPES.get(file_type, "application/octet-stream")
            refs.append(MediaRef(url=content["downloadUrl"], content_type=mime))
        elif (attachment.content_type or "").startswith("image/") and attachment.content_url:
            refs.append(MediaRef(url=attachment.content_url, content_type=attachment.content_type))
    return tuple(refs)


# The Activity's list fields: msrest keeps a JSON null inside a list as None, which every
# reader of these lists would trip over.
_LIST_FIELDS = (
    "attachments", "members_added", "members_removed", "reactions_added",
    "reactions_removed", "entities",
)  # fmt: skip


def drop_empty_entries(activity: Any) -> None:
    for name in _LIST_FIELDS:
        entries = getattr(activity, name, None)
        if isinstance(entries, list) and any(entry is None for entry in entries):
            setattr(activity, name, [entry for entry in entries if entry is not None])


def loopback_url(url: object) -> bool:
    """Whether `url` is http(s) on this machine (localhost, 127.0.0.0/8, ::1)."""
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        _ = parts.port  # a port that is no number raises ValueError
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
