"""Every step of every creation dialog, walked: 'help' and 'menu' explain that step and ask it
again (they never become the answer), a reply the step cannot take is re-asked with a reason
before the same question, and 'terug' goes to the step before (issues 12 and 13)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.dialog_steps import StepDialog
from bot.engine import Engine
from bot.i18n import t
from storage.broadcast_models import Broadcast
from storage.models import Conversation, NominationCampaign, OpenQuestion, Poll
from tests.support.broadcasts import Clock
from tests.support.org import Org

# (dialog, the command that starts it, [(step, the lines that answer it, a reply it refuses)]),
# the last step a preview whose answer discards the draft.
WALKS = [
    (
        "poll_create",
        "nieuwe peiling",
        [
            ("question", ["Koffie of thee?"], None),
            ("options", ["Koffie", "Thee", "klaar"], None),
            ("mode", ["1"], "xyzzy"),
            ("anonymity", ["anoniem"], "misschien"),
            ("closes", ["morgen 17:00"], "6"),
            ("audience", ["iedereen"], "afdeling"),
            ("confirm", ["weggooien"], "ja"),
        ],
        Poll,
    ),
    (
        "question_create",
        "nieuwe vraag",
        [
            ("text", ["Hoe gaat het?"], None),
            ("anonymity", ["met naam"], "weet ik niet"),
            ("closes", ["vrijdag 17:00"], "om 6"),
            ("audience", ["productie"], "xyzzy"),
            ("confirm", ["weggooien"], "ja"),
        ],
        OpenQuestion,
    ),
    (
        "nomination_campaign",
        "nominatieronde",
        [
            ("title", ["OR 2027"], None),
            ("closes", ["7-12 08:00"], "gisteren"),
            ("anonymity", ["anoniem"], "ja"),
            ("limit", ["3"], "veel"),
            ("confirm", ["weggooien"], "misschien"),
        ],
        NominationCampaign,
    ),
    (
        "broadcast_create",
        "nieuw bericht",
        [
            ("text", ["Morgen geen koffie"], None),
            ("image", ["geen foto"], "ja"),
            ("audience", ["iedereen"], "afdeling"),
            ("when", ["vanavond half 8"], "half 8"),
            ("ack", ["nee hoor"], "xyzzy"),
            ("confirm", ["weggooien"], "ja"),
        ],
        Broadcast,
    ),
]


async def current_step(engine: Engine, org: Org) -> str | None:
    async with engine.db.transaction(read_only=True) as session:
        row = await session.get(Conversation, org.people["olga"].id)
        return None if row is None or row.dialog is None else str(row.state.get("step"))


async def last(org: Org) -> str:
    return (await org.last("olga")).text


@pytest.mark.parametrize(("name", "command", "steps", "model"), WALKS, ids=[w[0] for w in WALKS])
async def test_every_step_takes_help_back_and_says_why(
    engine: Engine, org: Org, name: str, command: str, steps: list, model: type
) -> None:  # type: ignore[type-arg]
    engine.clock = Clock()
    dialog = engine.registry.dialogs[name]
    assert isinstance(dialog, StepDialog)
    help_of = {s.name: s.help_key for s in dialog.steps()}
    assert {s for s, _, _ in steps} <= help_of.keys()
    await org.say("olga", command)
    previous: tuple[str, list[str]] | None = None
    for step, answer, refused in steps:
        assert await current_step(engine, org) == step
        question = await last(org)
        for word in ("help", "menu"):
            await org.say("olga", word)
            text = await last(org)
            assert text.startswith(t("nl", help_of[step])) and text.endswith(question), word
            assert await current_step(engine, org) == step
        if refused is not None:
            await org.say("olga", refused)
            text = await last(org)
            assert text.endswith(question) and len(text) > len(question) + 10, refused
            assert await current_step(engine, org) == step
        if previous is not None:
            await org.say("olga", "terug")
            assert await current_step(engine, org) == previous[0]
            for line in previous[1] if previous[0] != "options" else ["klaar"]:
                await org.say("olga", line)
            assert await current_step(engine, org) == step
        for line in answer:
            await org.say("olga", line)
        previous = (step, answer)
    assert await current_step(engine, org) is None  # discarded at the preview
    async with engine.db.transaction(read_only=True) as session:
        assert await session.scalar(select(func.count()).select_from(model)) == 0
