"""What is open for a person right now: a summary for a platform's home screen (Slack's App
Home), built from the same rules as the chat (audience, answered or not)."""

from __future__ import annotations

from bot.conversation import Services
from bot.i18n import pick, t
from bot.messages import Choice, Outgoing
from bot.registry import Registry
from storage.models import Person
from storage.people import Audience
from storage.polls import OPEN


async def open_for(services: Services, person: Person) -> Outgoing:
    lang = person.language
    lines = []
    for poll in await services.polls.recent(status=OPEN, limit=50):
        if not Audience.from_dict(poll.audience).includes(person):
            continue
        key = (
            "home.poll_answered"
            if await services.polls.has_voted(poll, person.id)
            else "home.poll_open"
        )
        question = pick(lang, poll.question, poll.question_en)
        line = t(lang, key, id=poll.id, question=question)
        if poll.closes_at:
            line += " " + t(lang, "poll.closes", when=services.format_time(poll.closes_at, lang))
        lines.append(line)
    if not lines:
        return Outgoing(text=t(lang, "menu.no_open_polls"))
    return Outgoing(
        text="\n".join([t(lang, "home.open_now"), *lines]),
        choices=(Choice(t(lang, "menu.button_polls"), "menu:polls"),),
    )


def register(registry: Registry) -> None:
    registry.set_home(open_for)
