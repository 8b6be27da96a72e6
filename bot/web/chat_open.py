"""What is open for the person, shown at the top of the web chat when it is (re)opened: open
polls, open questions and a nomination round, each with a button that asks the bot for it.

Read-only and built from the same rules as the chat (audience, closing time, answered or
not), so the panel never offers what the bot would refuse. Nothing here is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.engine import Engine
from bot.i18n import pick, t
from bot.usecases import questions as question_cases
from bot.usecases.nominations import nominator_of
from storage.models import Person
from storage.nominations import Nominations
from storage.people import Audience
from storage.polls import OPEN
from storage.questions import Questions


@dataclass(frozen=True, slots=True)
class OpenItem:
    """One line of the panel; `text` or `choice` is what its button sends to the bot."""

    line: str
    done: bool
    button: str
    text: str = ""
    choice: str = ""


async def open_items(engine: Engine, person: Person, lang: str) -> list[OpenItem]:
    """Long because it reads three kinds of open items, each with its own "answered" rule."""
    items: list[OpenItem] = []
    async with engine.db.transaction(read_only=True) as session:
        services = engine.services(session)

        def closes(when: datetime | None) -> str:
            if when is None:
                return ""
            return " " + t(lang, "webchat.open_closes", when=services.format_time(when, lang))

        for poll in reversed(await services.polls.recent(status=OPEN, limit=50)):
            if not await services.people.in_audience(person.id, Audience.from_dict(poll.audience)):
                continue
            done = await services.polls.has_voted(poll, person.id)
            items.append(
                OpenItem(
                    line=t(
                        lang,
                        "webchat.open_poll",
                        id=poll.id,
                        question=pick(lang, poll.question, poll.question_en),
                    )
                    + closes(poll.closes_at),
                    done=done,
                    button=t(lang, "webchat.open_poll_button"),
                    choice="menu:polls",
                )
            )
        for question in await question_cases.open_for(services, person.id):
            done = await Questions(session).has_answered(question, person.id)
            items.append(
                OpenItem(
                    line=t(
                        lang,
                        "webchat.open_question",
                        id=question.id,
                        question=pick(lang, question.text, question.text_en),
                    )
                    + closes(question.closes_at),
                    done=done,
                    button=t(lang, "webchat.open_question_button"),
                    text=_command(lang, "commands.questions"),
                )
            )
        nominations = Nominations(session)
        campaign = await nominations.current(services.now)
        if campaign is not None:
            mine = await nominations.nominated_by(
                campaign.id, nominator_of(services, campaign, person.id)
            )
            items.append(
                OpenItem(
                    line=t(lang, "webchat.open_nomination", title=campaign.title)
                    + closes(campaign.closes_at),
                    done=bool(mine),
                    button=t(lang, "webchat.open_nomination_button"),
                    text=_command(lang, "commands.nominate"),
                )
            )
    return items


def _command(lang: str, key: str) -> str:
    """The first word of a command in the person's language ("vragen", "questions")."""
    return t(lang, key).split("|")[0]


async def settled_polls(engine: Engine, person_id: int, poll_ids: set[int]) -> set[int]:
    """The polls among these whose buttons this person has no use for any more: voted in,
    closed, or gone."""
    if not poll_ids:
        return set()
    settled = set()
    async with engine.db.transaction(read_only=True) as session:
        services = engine.services(session)
        for poll_id in poll_ids:
            poll = await services.polls.get(poll_id)
            if (
                poll is None
                or poll.status != OPEN
                or await services.polls.has_voted(poll, person_id)
            ):
                settled.add(poll_id)
    return settled
