""" "Wat doet de OR ermee?": after a poll or open question closes, the OR says what it will do
with the outcome, and everyone in the audience gets that together with the results.

A follow-up is a broadcast (bot/usecases/broadcasts.py) tied to its subject in the followups
table, so delivery in batches, opt-outs, reach and the useful / not useful buttons are the
broadcast's own; only the message differs: the results, rendered per language when the
follow-up is written, above the OR's words (`broadcasts.broadcast_message`). Surveys build a
`Subject` of their own and call `send`.

Rules, here once for the chat, the dashboard and the CLI:
- only OR members and admins write one (the operator at the command line may);
- the poll or question exists and is closed: the outcome must be final;
- the text is 1..MAX_TEXT characters (the results come on top; a longer message reaches
  WhatsApp in parts, adapters/whatsapp_outbound.split_body);
- one follow-up per subject (two OR members at once: one wins, the other is refused);
- an audience that reaches nobody right now is refused, as for broadcasts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.conversation import Services
from bot.i18n import LANGUAGES, t
from bot.themes import answers as answer_themes
from bot.themes.model import Theme
from bot.usecases import Refused, broadcasts, polls
from storage.broadcasts import Broadcasts
from storage.followups import FollowUps
from storage.people import Audience
from storage.polls import CLOSED as POLL_CLOSED
from storage.questions import CLOSED as QUESTION_CLOSED
from storage.questions import Questions

MAX_TEXT = 1000
WRITERS = frozenset({"or_member", "admin"})
MAX_THEMES_LISTED = 8

# Refusals (catalogue keys).
OR_ONLY = "followup.or_only"
NOT_FOUND = "followup.not_found"  # kind, id
NOT_CLOSED = "followup.not_closed"  # kind, id
TEXT_LENGTH = "followup.text_length"  # max, length
ALREADY = "followup.already"  # kind, id


@dataclass(frozen=True, slots=True)
class Subject:
    """What a follow-up answers: its kind ("poll", "question", "survey") and id, who was
    asked, whether it is closed, and its results as a reader of a language sees them."""

    kind: str
    id: int
    audience: Audience
    closed: bool
    results: Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Sent:
    broadcast_id: int
    queued: int  # messages queued in this transaction (the rest by the scheduler's tick)

    @property
    def wake_worker(self) -> bool:
        return self.queued > 0


def check_text(text: str) -> str:
    return broadcasts.bounded_text(text, MAX_TEXT, TEXT_LENGTH)


async def send(services: Services, subject: Subject, text: str, actor: broadcasts.Actor) -> Sent:
    """Check the rules, then send the follow-up to the subject's audience as a broadcast
    that starts now; its first batch is queued in the caller's transaction."""
    if actor.person_id is not None and not await services.people.roles(actor.person_id) & WRITERS:
        raise Refused(OR_ONLY)
    if not subject.closed:
        raise Refused(NOT_CLOSED, kind=subject.kind, id=subject.id)
    body = check_text(text)
    store = Broadcasts(services.session)
    if await FollowUps(services.session).of(subject.kind, subject.id) is not None:
        raise Refused(ALREADY, kind=subject.kind, id=subject.id)
    if not await store.estimate(subject.audience, None):
        raise Refused(broadcasts.NOBODY)
    created = await store.create(
        text=body,
        image_id=None,
        audience=subject.audience,
        channel=None,
        scheduled_at=services.now,
        acknowledge=False,
        remind_after=None,
        created_by=actor.person_id,
        now=services.now,
    )
    results = {lang: subject.results(lang) for lang in LANGUAGES}
    if not await FollowUps(services.session).add(
        created.id, subject.kind, subject.id, results, services.now
    ):
        raise Refused(ALREADY, kind=subject.kind, id=subject.id)
    followup = f"{subject.kind}:{subject.id}"
    await broadcasts.audit(services, "broadcast.created", created.id, actor, followup=followup)
    saved = await broadcasts.send_if_due(
        services, created.id, services.now, actor, broadcasts.TURN_BATCHES
    )
    return Sent(created.id, saved.queued)


async def poll_subject(services: Services, poll_id: int) -> Subject:
    """A poll as a follow-up's subject: its closing results, as everyone got them."""
    poll = await services.polls.get(poll_id)
    if poll is None:
        raise Refused(NOT_FOUND, kind="poll", id=poll_id)
    tally = await services.polls.tally(poll)
    return Subject(
        kind="poll",
        id=poll.id,
        audience=Audience.from_dict(poll.audience),
        closed=poll.status == POLL_CLOSED,
        results=lambda lang: polls.results_text(poll, tally, lang),
    )


async def question_subject(services: Services, question_id: int) -> Subject:
    """An open question as a follow-up's subject: how many answered, and the themes."""
    questions = Questions(services.session)
    question = await questions.get(question_id)
    if question is None:
        raise Refused(NOT_FOUND, kind="question", id=question_id)
    answers = await questions.answers(question)
    found = await answer_themes.themes_of([(a.id, a.text) for a in answers])
    count, size = len(answers), question.audience_size

    def results(lang: str) -> str:
        lines = [t(lang, "followup.question_head", id=question.id), question.text, ""]
        lines.append(t(lang, "followup.question_answers", count=count, audience=size))
        lines.extend(theme_lines(found, lang))
        return "\n".join(lines)

    return Subject(
        kind="question",
        id=question.id,
        audience=Audience.from_dict(question.audience),
        closed=question.status == QUESTION_CLOSED,
        results=results,
    )


def theme_lines(themes: list[Theme], lang: str) -> list[str]:
    """The themes as the audience reads them: labels and counts, no answer text (an
    anonymous answer quoted to everyone could be recognised)."""
    named = [th for th in themes if not th.other][:MAX_THEMES_LISTED]
    if not named:
        return []
    lines = ["", t(lang, "followup.themes_head")]
    for theme in named:
        lines.append(t(lang, "followup.theme_line", label=theme.label, count=theme.count))
    return lines


# How each kind's subject is read. Callers outside an event read it in a read-only
# transaction and `send` in a writing one: the themes of a large question take seconds, and
# on SQLite a writing transaction holds the one write lock all along.
SUBJECTS: dict[str, Callable[[Services, int], Awaitable[Subject]]] = {
    "poll": poll_subject,
    "question": question_subject,
}


async def follow_up_poll(
    services: Services, poll_id: int, text: str, actor: broadcasts.Actor
) -> Sent:
    """Read the poll and send, in one transaction (the chat's way, and the tests')."""
    return await send(services, await poll_subject(services, poll_id), text, actor)


async def follow_up_question(
    services: Services, question_id: int, text: str, actor: broadcasts.Actor
) -> Sent:
    """Read the question and its themes and send, in one transaction."""
    return await send(services, await question_subject(services, question_id), text, actor)
