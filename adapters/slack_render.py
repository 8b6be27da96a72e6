"""Slack's message format: Outgoing → Block Kit. Pure translation, no I/O.

A button is `achterban:choice:<n>` carrying the payload as its value, a longer list a static
select, and a multiple choice is checkboxes whose state Slack sends along when the submit
button is pressed; adapters/slack_parse.py reads those action ids back.
Text goes out as mrkdwn with `&`, `<` and `>` escaped, so a poll question cannot mention
@channel or fake a link.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from bot.messages import Choice, DeliveryError, Outgoing

CHANNEL = "slack"
ACTION_PREFIX = "achterban:"
CHOICE_ACTION = ACTION_PREFIX + "choice:"  # + index: action ids must be unique in a message
SELECT_ACTION = ACTION_PREFIX + "select:"
MULTI_ACTION = ACTION_PREFIX + "multi:"
SUBMIT_ACTION = ACTION_PREFIX + "submit"

MAX_BUTTONS = 5  # more choices become a static select
# Block Kit limits (https://docs.slack.dev/reference/block-kit): section text 3000 characters,
# button/option text 75, button value 2000, option value 150, 10 checkbox options, 100 select
# options, 50 blocks per message.
SECTION_TEXT_MAX = 3000
LABEL_MAX = 75
BUTTON_VALUE_MAX = 2000
OPTION_VALUE_MAX = 150
CHECKBOX_OPTIONS_MAX = 10
SELECT_OPTIONS_MAX = 100
MAX_BLOCKS = 50
FALLBACK_TEXT_MAX = 3000


def escape(text: str) -> str:
    """mrkdwn control characters; everything else (*bold*, _italic_) keeps its meaning."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(outgoing: Outgoing, media_url: Callable[[str], str] | None = None) -> dict[str, Any]:
    """`text` (notification fallback), `blocks`, and `replaces` (a message to update).
    Images are image blocks that Slack fetches from our media endpoint (`media_url(id)`)."""
    blocks = [
        {"type": "section", "block_id": f"achterban-text-{i}", "text": _mrkdwn(chunk)}
        for i, chunk in enumerate(_chunks(escape(outgoing.text) or " ", SECTION_TEXT_MAX))
    ]
    if media_url is not None:
        blocks += [
            {"type": "image", "image_url": media_url(media_id), "alt_text": f"📷 {n}"}
            for n, media_id in enumerate(outgoing.images, start=1)
        ]
    if outgoing.choices:
        blocks.extend(_choice_blocks(outgoing))
    if len(blocks) > MAX_BLOCKS:
        raise DeliveryError("message too long for Slack (more than 50 blocks)", permanent=True)
    return {
        "text": _truncate(escape(outgoing.text), FALLBACK_TEXT_MAX) or " ",
        "blocks": blocks,
        "replaces": outgoing.replaces,
    }


def _choice_blocks(outgoing: Outgoing) -> list[dict[str, Any]]:
    choices = outgoing.choices
    if outgoing.multiple:
        boxes = [
            {
                "type": "checkboxes",
                "action_id": f"{MULTI_ACTION}{n}",
                "options": [_option(c) for c in group],
            }
            for n, group in enumerate(_groups(choices, CHECKBOX_OPTIONS_MAX))
        ]
        submit = {
            "type": "button",
            "action_id": SUBMIT_ACTION,
            "style": "primary",
            "text": _plain(outgoing.submit_label or "OK"),
            "value": "submit",
        }
        return [
            {"type": "actions", "block_id": "achterban-choices", "elements": boxes},
            {"type": "actions", "block_id": "achterban-submit", "elements": [submit]},
        ]
    if len(choices) <= MAX_BUTTONS:
        buttons = [
            {
                "type": "button",
                "action_id": f"{CHOICE_ACTION}{i}",
                "text": _plain(c.label),
                "value": _value(c.payload, BUTTON_VALUE_MAX),
            }
            for i, c in enumerate(choices)
        ]
        return [{"type": "actions", "block_id": "achterban-choices", "elements": buttons}]
    selects = [
        {
            "type": "static_select",
            "action_id": f"{SELECT_ACTION}{n}",
            "options": [_option(c) for c in group],
        }
        for n, group in enumerate(_groups(choices, SELECT_OPTIONS_MAX))
    ]
    return [{"type": "actions", "block_id": "achterban-choices", "elements": selects}]


def _option(choice: Choice) -> dict[str, Any]:
    return {"text": _plain(choice.label), "value": _value(choice.payload, OPTION_VALUE_MAX)}


def _value(payload: str, limit: int) -> str:
    if not payload or len(payload) > limit:
        # Payloads are built from ids and fixed words; a longer one is a bug, not a retry case.
        raise DeliveryError(
            f"choice payload does not fit Slack's {limit} characters", permanent=True
        )
    return payload


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": _truncate(text, LABEL_MAX) or " ", "emoji": True}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _groups(choices: Sequence[Choice], size: int) -> Iterator[Sequence[Choice]]:
    for start in range(0, len(choices), size):
        yield choices[start : start + size]


def _chunks(text: str, limit: int) -> Iterator[str]:
    """Split at line ends where possible, so a long results list stays readable."""
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut <= 0:
            cut = limit
        yield text[:cut]
        text = text[cut:].lstrip("\n")
    if text:
        yield text
