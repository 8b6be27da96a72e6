"""A colleague's 1:1 Teams chat driven through the real Teams adapter (POST /api/messages),
for tests that are not about Teams itself (the survey channels, the privacy scan)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from storage.models import Person
from tests.adapters.payloads import load
from tests.adapters.test_teams import APP_ID, BOT, TENANT, card_of, member
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.openid_keys import OpenIdKeys


@dataclass
class TeamsChat:
    """One colleague's 1:1 Teams chat with the bot, driven as the Bot Connector drives it:
    activities POSTed to the adapter's /api/messages with a JWT that botframework-connector
    validates against the fake OpenID keys, the member lookup answered by the fake Bot
    Connector (which matches the roster by e-mail), and the bot's cards read from what the
    delivery worker sent to that connector (tests/adapters/test_teams.py's rig)."""

    url: str  # our server's POST /api/messages
    http: aiohttp.ClientSession
    keys: OpenIdKeys
    connector: FakeBotConnector
    key: str
    person: Person
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1_800_000_000_001))

    def __post_init__(self) -> None:
        self.connector.members[f"29:{self.key}"] = {
            **member(self.key),
            "name": self.person.name,
            "email": self.person.email,
            "userPrincipalName": self.person.email,
        }

    @property
    def conversation(self) -> str:
        return f"a:personal-{self.key}"

    @property
    def account(self) -> str:
        """The account the adapter hands the engine: the user's AAD object id."""
        return f"aad-{self.key}"

    @property
    def identifiers(self) -> set[str]:
        """Teams' ids of this colleague: their account, user id and 1:1 conversation."""
        return {self.account, f"29:{self.key}", self.conversation}

    def _activity(self, **fields: Any) -> dict[str, Any]:
        """The recorded payloads/teams/message.json, from this colleague to this test's bot."""
        activity = load("teams", "message")
        activity.update(
            id=str(next(self._ids)),
            serviceUrl=self.connector.url,
            recipient=BOT,
            channelData={"tenant": {"id": TENANT}},
        )
        activity["from"] = {"id": f"29:{self.key}", "name": self.person.name,
                            "aadObjectId": self.account}  # fmt: skip
        activity["conversation"].update(tenantId=TENANT, id=self.conversation)
        activity.update(fields)
        return activity

    async def _post(self, activity: dict[str, Any]) -> None:
        token = self.keys.token(audience=APP_ID, service_url=self.connector.url)
        headers = {"Authorization": f"Bearer {token}"}
        async with self.http.post(self.url, json=activity, headers=headers) as response:
            await response.read()
            assert response.status == 200, (response.status, activity)

    async def say(self, text: str) -> None:
        await self._post(self._activity(text=text, textFormat="plain"))

    def cards(self) -> dict[str, dict[str, Any]]:
        """Every card in the chat as it shows now (an update replaces its message), newest
        last: activity id → Adaptive Card."""
        shown: dict[str, dict[str, Any]] = {}
        for activity in self.connector.sent(self.conversation):
            shown.pop(activity["_id"], None)
            shown[activity["_id"]] = card_of(activity)
        return shown

    async def press(self, payload: str) -> None:
        """Press the Action.Submit button carrying `payload` on the newest card that shows
        it, or tick that box of a multi-select card and press its submit button; posted as
        Teams posts a submission (payloads/teams/card_submit*.json: no text, `value` = the
        button's data merged with the inputs, replyToId = the card's message)."""
        for activity_id, card in reversed(self.cards().items()):
            value = _submission(card, payload)
            if value is not None:
                submit = self._activity(
                    value=value, replyToId=activity_id,
                    channelData={"tenant": {"id": TENANT}, "source": {"name": "message"}},
                )  # fmt: skip
                for name in ("text", "textFormat"):
                    submit.pop(name)
                await self._post(submit)
                return
        raise AssertionError(f"no card button {payload} was sent to {self.key}")


def _actions(card: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from card.get("actions", ())
    for block in card["body"]:
        if block["type"] == "ActionSet":
            yield from block["actions"]


def _submission(card: dict[str, Any], payload: str) -> dict[str, Any] | None:
    for action in _actions(card):
        if action["type"] == "Action.Submit" and action["data"].get("payload") == payload:
            return dict(action["data"])
    for block in card["body"]:
        if block["type"] == "Input.ChoiceSet" and payload in (c["value"] for c in block["choices"]):
            (submit,) = [a for a in card["actions"] if a["type"] == "Action.Submit"]
            return {**submit["data"], block["id"]: payload}
    return None
