"""The web chat channel's translation: `Outgoing` to what the chat page shows, a "send" that
puts it in the person's web mailbox (a table behind the `Mailbox` port, so any server process
can serve the browser), and the photo a message carries while it is handled.

The pages themselves (sessions, CSRF, templates, uploads) are a web application and live in
bot/web/chat_views.py; this module imports no store and no web page.
"""

from __future__ import annotations

from typing import Any, Protocol

from bot.messages import DeliveryError, MediaRef, Outgoing, Recipient, SendResult
from bot.seal import Sealer

CHANNEL = "web"  # storage.web.WEB_CHANNEL: the same word, which storage may not import from here


class Mailbox(Protocol):
    """Where a web chat message waits until the browser has shown it."""

    async def put(self, account: str, payload: dict[str, Any]) -> int: ...


class Uploads(Protocol):
    """Photos held while the message that carries them is handled (bot/web/uploads.py)."""

    def get(self, url: str) -> bytes | None: ...


def account_of(person_id: int) -> str:
    """The web chat account of a person: stable, and no personal data in outbox rows."""
    return f"person-{person_id}"


class WebAdapter:
    channel = CHANNEL

    def __init__(self, mailbox: Mailbox, uploads: Uploads, sealer: Sealer) -> None:
        self.mailbox = mailbox
        self.uploads = uploads
        self.sealer = sealer

    def render(self, outgoing: Outgoing) -> dict[str, Any]:
        return {
            "text": outgoing.text,
            "choices": [{"label": c.label, "payload": c.payload} for c in outgoing.choices],
            "multiple": outgoing.multiple,
            "submit_label": outgoing.submit_label,
            "replaces": outgoing.replaces,
            "images": list(outgoing.images),
            "sealed": outgoing.sealed,
        }

    async def send(self, recipient: Recipient, rendered: dict[str, Any]) -> SendResult:
        # A sealed message waits in the mailbox as it waited in the outbox: encrypted.
        stored = self.sealer.seal(rendered) if rendered.get("sealed") else rendered
        message_id = await self.mailbox.put(recipient.account, stored)
        return SendResult(platform_message_id=str(message_id))

    async def fetch_media(self, ref: MediaRef) -> bytes:
        """A photo uploaded through the chat page, while its message is being handled."""
        data = self.uploads.get(ref.url)
        if data is None:
            raise DeliveryError("not a web chat upload being handled", permanent=True)
        return data
