"""Slack's payloads → Incoming: the envelope check before bolt, and each listener's reading
of a message, a /or command or a button press. Pure translation, no I/O.

Text coming in is unescaped the way Slack escapes it (`&`, `<`, `>`); the action ids are the
ones adapters/slack_render.py gives the buttons.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from adapters.slack_render import (
    BUTTON_VALUE_MAX,
    CHANNEL,
    CHOICE_ACTION,
    MULTI_ACTION,
    SELECT_ACTION,
    SUBMIT_ACTION,
)
from bot.messages import PAYLOAD_JOIN, Incoming, MediaRef, Profile


class Malformed(ValueError):
    """A signed payload whose shape is not what Slack sends; answered 400."""


# Top-level fields that bolt reads as objects when they are there (building its context,
# matching listeners); anything else in them makes it raise instead of answering.
_OBJECT_FIELDS = (
    "user", "team", "enterprise", "channel", "container", "view", "message",
    "previous_message", "state", "assistant_thread",
)  # fmt: skip


def envelope_problem(body: Any) -> str | None:
    """Why a signed body cannot be one of Slack's envelopes, or None when it can.

    Checked before bolt sees the body: bolt indexes into what it expects (the first action of
    a block_actions, the event's type, the user's id) and raises on anything else, which
    would be a 500. Envelopes that pass may still be refused by the listeners (Malformed)."""
    if not isinstance(body, dict):
        return "not an object"
    kind = body.get("type")
    if kind is not None and not isinstance(kind, str):
        return "type is not a string"
    if kind == "event_callback" or "event" in body:
        event = body.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return "event missing"
        for key in ("message", "previous_message", "item", "user"):
            if key in event and event[key] is not None and not isinstance(event[key], dict | str):
                return f"event.{key} malformed"
    if kind in ("block_actions", "interactive_message") or "actions" in body:
        actions = body.get("actions")
        if not (
            isinstance(actions, list) and actions and all(isinstance(a, dict) for a in actions)
        ):
            return "actions missing"
    for key in _OBJECT_FIELDS:
        if body.get(key) is not None and not isinstance(body[key], dict | str):
            return f"{key} malformed"
    if kind is not None and kind != "event_callback" and isinstance(body.get("user"), str):
        return "user malformed"  # interactive payloads carry the user as an object
    authorizations = body.get("authorizations")
    if authorizations is not None and not (
        isinstance(authorizations, list) and all(isinstance(a, dict) for a in authorizations)
    ):
        return "authorizations malformed"
    return None


def choice_from_actions(payload: Mapping[str, Any]) -> str | None:
    """The chosen payload of a block_actions request, or None when nothing was chosen.

    A checkbox tick is only state (Slack sends it, we ignore it); the submit button reads the
    ticked boxes from `state.values` and joins their payloads with PAYLOAD_JOIN.
    """
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise Malformed("block_actions without actions")
    action = actions[0]
    action_id = required(action.get("action_id"), "action_id")
    if action_id.startswith(CHOICE_ACTION):
        return _payload(action.get("value"))
    if action_id.startswith(SELECT_ACTION):
        selected = action.get("selected_option")
        if not isinstance(selected, dict):
            raise Malformed("static_select without selected_option")
        return _payload(selected.get("value"))
    if action_id == SUBMIT_ACTION:
        ticked = _ticked(payload.get("state"))
        return PAYLOAD_JOIN.join(ticked) if ticked else None
    return None  # a checkbox tick, or an element that is not ours


def _ticked(state: Any) -> list[str]:
    if state is None:
        return []
    values = state.get("values") if isinstance(state, dict) else None
    if not isinstance(values, dict):
        raise Malformed("state without values")
    ticked: list[str] = []
    for block in values.values():
        if not isinstance(block, dict):
            raise Malformed("state block is not an object")
        for action_id, element in sorted(block.items()):
            if not action_id.startswith(MULTI_ACTION):
                continue
            options = element.get("selected_options") if isinstance(element, dict) else None
            if not isinstance(options, list):
                raise Malformed("checkboxes without selected_options")
            ticked += [_payload(o.get("value") if isinstance(o, dict) else None) for o in options]
    return ticked


def _payload(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > BUTTON_VALUE_MAX:
        raise Malformed("choice value missing or too long")
    return value


def required(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise Malformed(f"{name} missing")
    return value


# Message subtypes a person's own message has; edits, deletions, joins and bots' are skipped.
MESSAGE_SUBTYPES = (None, "file_share", "thread_broadcast")


def message_sender(body: Mapping[str, Any], *, mention: bool) -> str | None:
    """Who wrote this message event, or None when it is not a person's message to handle:
    only direct messages (in channels the bot hears @mentions), never a bot's (our own)."""
    event = body.get("event")
    if not isinstance(event, dict):
        raise Malformed("event missing")
    if not mention and event.get("channel_type") != "im":
        return None
    user = event.get("user")
    if (
        event.get("bot_id")
        or event.get("hidden")
        or event.get("subtype") not in MESSAGE_SUBTYPES
        or not isinstance(user, str)
    ):
        return None
    return user


def incoming_from_message(
    body: Mapping[str, Any],
    user: str,
    *,
    mention: bool,
    locale: str | None = None,
    profile: Profile | None = None,
) -> Incoming:
    """message.im / app_mention; the top-level event_id is what Slack repeats on a retry."""
    event = body["event"]
    text = event.get("text") or ""
    if not isinstance(text, str):
        raise Malformed("text is not a string")
    return Incoming(
        channel=CHANNEL,
        event_id=required(body.get("event_id"), "event_id"),
        account=user,
        text=plain_text(text, drop_mention=bot_user_id(body) if mention else None),
        attachments=shared_files(event.get("files")),
        locale=locale,
        profile=profile,
    )


def incoming_from_command(
    body: Mapping[str, Any], *, locale: str | None = None, profile: Profile | None = None
) -> Incoming:
    """/or: a bare command opens the menu; "/or results 12" is the same as typing it."""
    text = body.get("text") or ""
    if not isinstance(text, str):
        raise Malformed("text is not a string")
    return Incoming(
        channel=CHANNEL,
        # trigger_id is unique per invocation; Slack does not retry commands, a proxy might.
        event_id="command:" + required(body.get("trigger_id"), "trigger_id"),
        account=required(body.get("user_id"), "user_id"),
        text=plain_text(text) or "menu",
        locale=locale,
        profile=profile,
    )


def incoming_from_action(body: Mapping[str, Any]) -> Incoming | None:
    """block_actions → a choice, with the message to update afterwards; None for a checkbox
    tick, an empty submission, or a legacy attachment action (not ours)."""
    if body.get("type") != "block_actions":
        return None
    choice = choice_from_actions(body)
    user = body.get("user")
    user_id = required(user.get("id") if isinstance(user, dict) else None, "user.id")
    if choice is None:
        return None
    action = body["actions"][0]
    stamp = required(action.get("action_ts") or body.get("trigger_id"), "action_ts")
    container = body.get("container")
    ref = None
    if isinstance(container, dict) and container.get("channel_id") and container.get("message_ts"):
        ref = f"{container['channel_id']}:{container['message_ts']}"
    return Incoming(
        channel=CHANNEL,
        # One press is one action_ts; a double click is two presses, which the vote makes
        # idempotent anyway. Never the action_id: it names the button, i.e. the choice.
        event_id=f"action:{user_id}:{stamp}",
        account=user_id,
        choice=choice,
        message_ref=ref,
    )


def bot_user_id(body: Mapping[str, Any]) -> str | None:
    """Our bot's user id, from the event's authorizations (so no auth.test is needed)."""
    for auth in body.get("authorizations") or ():
        if isinstance(auth, dict) and auth.get("is_bot") and isinstance(auth.get("user_id"), str):
            return str(auth["user_id"])
    return None


def shared_files(files: Any) -> tuple[MediaRef, ...]:
    """file_share: the private download URLs (fetched later, with the token, capped)."""
    if files is None:
        return ()
    if not isinstance(files, list):
        raise Malformed("files is not a list")
    refs = []
    for f in files:
        if not isinstance(f, dict):
            raise Malformed("file is not an object")
        url = f.get("url_private_download") or f.get("url_private")
        if not isinstance(url, str):
            continue  # external or deleted files carry no private URL
        size = f.get("size")
        refs.append(
            MediaRef(
                url=url,
                content_type=str(f.get("mimetype") or ""),
                size=size if isinstance(size, int) else None,
            )
        )
    return tuple(refs)


_USER_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL_LINK = re.compile(r"<#[A-Z0-9]+\|([^>]*)>")
_SPECIAL = re.compile(r"<!([a-z]+)(?:\|[^>]*)?>")
_LINK = re.compile(r"<([^@#!][^>|]*)(?:\|([^>]*))?>")


def plain_text(text: str, *, drop_mention: str | None = None) -> str:
    """Slack's message text as a person typed it: links and mentions readable, entities
    decoded. `drop_mention` removes the bot's own @mention (app_mention events)."""
    if drop_mention:
        text = re.sub(rf"<@{re.escape(drop_mention)}(?:\|[^>]*)?>", " ", text)
    text = _USER_MENTION.sub(r"@\1", text)
    text = _CHANNEL_LINK.sub(r"#\1", text)
    text = _SPECIAL.sub(r"@\1", text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    # Slack encodes exactly these three (https://docs.slack.dev/messaging/formatting-message-text).
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()
