"""Channel-agnostic messages: what crosses the boundary between adapters and the engine.

Adapters translate platform payloads into `Incoming` and render `Outgoing` back into platform
messages; nothing platform-specific lives in these types, so dialogs can be tested with no
server and an outbox row can be delivered through any channel.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.text import storable, storable_deep


class Purpose(StrEnum):
    """Why a message is sent; delivery may pace or count them differently."""

    REPLY = "reply"
    BROADCAST = "broadcast"
    NOTICE = "notice"


@dataclass(frozen=True, slots=True)
class MediaRef:
    """A file the person sent, still on the platform; adapters download it on demand."""

    url: str
    content_type: str = ""
    size: int | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    """What the platform tells about the sender, used to match them to the roster."""

    email: str | None = None
    phone: str | None = None
    name: str | None = None

    def without_nul(self) -> Profile:
        """This profile as the store can hold it (see Incoming)."""
        return Profile(
            email=storable(self.email) if self.email is not None else None,
            phone=storable(self.phone) if self.phone is not None else None,
            name=storable(self.name) if self.name is not None else None,
        )


@dataclass(frozen=True, slots=True)
class Incoming:
    """One inbound event, after the adapter verified and parsed it.

    `event_id` is the platform's own id of the event (Slack event_id, Twilio MessageSid,
    Teams activity id), so a platform retry is recognised as a duplicate.
    `choice` is the payload of a pressed button/card/quick reply; typed text goes in `text`.
    `message_ref` names the platform message that carried the pressed button, so an adapter
    can update it afterwards.
    """

    channel: str
    event_id: str
    account: str
    text: str = ""
    choice: str | None = None
    attachments: tuple[MediaRef, ...] = ()
    locale: str | None = None
    profile: Profile | None = None
    message_ref: str | None = None
    # Teams: the conversation reference to store, so the bot can write first later.
    conversation_ref: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        """No NUL character (nor a lone surrogate) gets past the adapters: PostgreSQL refuses
        text holding one, so an answer with a NUL in it could never be saved (a 500 on every
        retry). Every channel builds an Incoming, so this is the one place to strip them."""
        for name in ("channel", "event_id", "account", "text", "choice", "locale", "message_ref"):
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, storable(value))
        if self.profile is not None:
            object.__setattr__(self, "profile", self.profile.without_nul())
        if self.attachments:
            refs = tuple(
                replace(a, url=storable(a.url), content_type=storable(a.content_type))
                for a in self.attachments
            )
            object.__setattr__(self, "attachments", refs)
        if self.conversation_ref is not None:
            object.__setattr__(self, "conversation_ref", storable_deep(self.conversation_ref))


@dataclass(frozen=True, slots=True)
class Choice:
    """One answer option: a label shown to the person and the payload routed when chosen."""

    label: str
    payload: str


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to one person, fully translated; adapters only choose the presentation.

    `multiple` asks for a multi-select (checkboxes + submit labelled `submit_label`); the
    submitted payload is the payloads of the selected choices joined by `PAYLOAD_JOIN`.
    `replaces` is an Incoming.message_ref whose message may be updated instead of sending
    a new one, on platforms that can. `sealed` keeps it encrypted while it waits.
    """

    text: str
    choices: tuple[Choice, ...] = ()
    images: tuple[str, ...] = ()
    purpose: Purpose = Purpose.REPLY
    multiple: bool = False
    submit_label: str | None = None
    replaces: str | None = None
    # Repeats an anonymous act to its author: stored only encrypted (bot/seal.py).
    sealed: bool = False

    def to_json(self) -> str:
        data = asdict(self)
        data["choices"] = [asdict(c) for c in self.choices]
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str | dict[str, Any]) -> Outgoing:
        data = json.loads(raw) if isinstance(raw, str) else dict(raw)
        return cls(
            text=data["text"],
            choices=tuple(Choice(**c) for c in data.get("choices", ())),
            images=tuple(data.get("images", ())),
            purpose=Purpose(data.get("purpose", Purpose.REPLY)),
            multiple=bool(data.get("multiple", False)),
            submit_label=data.get("submit_label"),
            replaces=data.get("replaces"),
            sealed=bool(data.get("sealed", False)),
        )


# Multi-select submissions join the selected payloads with this separator: it cannot occur in
# a payload because payloads are built from ids and fixed words only.
PAYLOAD_JOIN = "|"


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who a message goes to, with what the platform needs to reach them: the stored Teams
    conversation reference, and the last inbound time (WhatsApp's 24-hour window)."""

    account: str
    conversation_ref: dict[str, Any] | None = None
    last_inbound_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SendResult:
    """What a platform said after accepting a message.

    `held`: only a notice went out (WhatsApp template outside the 24-hour window); the message
    itself is kept and sent when the person next writes.
    """

    platform_message_id: str | None = None
    held: bool = False


@dataclass(slots=True)
class DeliveryError(Exception):
    """A send failed; `permanent` means retrying cannot help (blocked, unknown user)."""

    reason: str
    permanent: bool = False
    retry_after: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.reason
