"""What the web chat's forms carry, read into what the engine and the page need: the ticked
boxes of a multiple-choice answer, the browser's id for a submission, the person's profile,
and why nothing was sent."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping

from bot.errors import UserError
from bot.i18n import t
from bot.messages import PAYLOAD_JOIN, Profile
from bot.web.auth import Visitor

CLIENT_EVENT = re.compile(r"[A-Za-z0-9_-]{8,64}")


def with_picks(fields: Mapping[str, str], picks: list[str]) -> dict[str, str]:
    """A multiple-choice answer: the ticked boxes' payloads joined, as the engine expects."""
    out = {k: v for k, v in fields.items() if k != "pick"}
    if picks:
        out["choice"] = PAYLOAD_JOIN.join(picks)
    return out


def notice(lang: str, problem: UserError) -> str:
    """Why nothing was sent; a photo's own reason says so in the photo pipeline's words."""
    text = t(lang, problem.key, **problem.params)
    if problem.key.startswith("photo."):
        text += " " + t(lang, "upload.nothing_sent")
    return text


def event_id(account: str, client_id: str) -> str:
    """The browser's id for this submission, so a double click is one event, not two."""
    if CLIENT_EVENT.fullmatch(client_id):
        return f"{account}:{client_id}"
    return f"{account}:{uuid.uuid4().hex}"


def profile(visitor: Visitor) -> Profile:
    person = visitor.person
    return Profile(email=person.email, phone=person.phone, name=person.name)
