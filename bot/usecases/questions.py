"""Open questions: the commands that change them — create (and send), close, answer, hide an
answer — with their rules in one place. The chat dialogs (dialogs/question_create.py,
dialogs/open_question.py), the dashboard (bot/web/question_views.py) and the CLI
(bot/cli/question.py) only ask and reply; a broken rule is a `Refused` with the catalogue key
the chat would say.

Messages are queued in the caller's transaction; the outbox wakes the delivery workers when
it commits (the engine after each event, the PostgreSQL trigger for the CLI), so no caller
has to remember to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.conversation import Services
from bot.fanout import per_language
from bot.i18n import pick, t
from bot.messages import Choice, Outgoing, Purpose
from bot.usecases import Refused
from storage.deadline import accepts, closed_since
from storage.models import OpenQuestion
from storage.people import Audience
from storage.questions import CLOSED, OPEN, AnswerOutcome, Questions

MAX_QUESTION = 1000
MAX_ANSWER = 2000
# Who may ask a question, and who may hide an answer.
CREATORS = frozenset({"or_member", "admin"})
MODERATORS = frozenset({"moderator", "admin"})


@dataclass(frozen=True, slots=True)
class Opened:
    """A question created and sent: `sent` people got it (never zero)."""

    question: OpenQuestion
    sent: int


def check_text(text: str) -> str:
    """The question as stored: stripped, 1..MAX_QUESTION characters."""
    text = text.strip()
    if not text or len(text) > MAX_QUESTION:
        raise Refused("qcreate.text_length", max=MAX_QUESTION)
    return text


def check_closes(closes_at: datetime | None, now: datetime) -> None:
    """A closing time, if any, lies in the future (a question closed at birth helps nobody)."""
    if closes_at is not None and closes_at <= now:
        raise Refused("qcreate.bad_closes")


def question_message(services: Services, question: OpenQuestion, lang: str) -> Outgoing:
    """The question as its audience gets it, with the button that starts an answer."""
    text = pick(lang, question.text, question.text_en)
    lines = [t(lang, "question.header", id=question.id), text, ""]
    lines.append(t(lang, "question.how_to_answer", max=MAX_ANSWER))
    if question.anonymous:
        lines.append(t(lang, "question.is_anonymous"))
    if question.closes_at:
        lines.append(
            t(lang, "question.closes", when=services.format_time(question.closes_at, lang))
        )
    return Outgoing(
        text="\n".join(lines),
        choices=(Choice(t(lang, "question.answer_button"), f"oq:{question.id}:answer"),),
        purpose=Purpose.NOTICE,
    )


async def create(
    services: Services,
    *,
    text: str,
    anonymous: bool,
    audience: Audience,
    closes_at: datetime | None,
    created_by: int | None,
    text_en: str | None = None,
) -> Opened:
    """Create a question and send it to its audience now.

    Refused: text not 1..MAX_QUESTION characters, a closing time not in the future, a
    creator who is not on the works council, an audience nobody on the roster matches.
    """
    text = check_text(text)
    english = check_text(text_en) if text_en and text_en.strip() else None
    check_closes(closes_at, services.now)
    if created_by is not None and not await services.people.roles(created_by) & CREATORS:
        raise Refused("common.or_only")
    if not await services.people.audience_ids(audience):
        raise Refused("qcreate.audience_empty")
    question = await Questions(services.session).create(
        text=text,
        anonymous=anonymous,
        audience=audience,
        closes_at=closes_at,
        created_by=created_by,
        now=services.now,
        text_en=english,
    )
    sent = await open_question(services, question, actor_id=created_by)
    return Opened(question, sent)


async def open_question(services: Services, question: OpenQuestion, *, actor_id: int | None) -> int:
    """Send a stored question to its audience (the audience as it is now); returns how many
    got it. `create` is the command; this is its second half, apart for tests that build
    odd questions on purpose."""
    audience = await services.people.audience_ids(Audience.from_dict(question.audience))
    await Questions(services.session).set_audience_size(question.id, len(audience))
    question.audience_size = len(audience)
    sent = await services.notify_many(
        audience, per_language(lambda lang: question_message(services, question, lang)), prompt=True
    )
    await services.audit(
        "question.opened", actor_id=actor_id, subject=f"question:{question.id}", audience=sent
    )
    return sent


async def close(services: Services, question_id: int, *, actor_id: int | None) -> OpenQuestion:
    """Close question `question_id` now; its author hears how many answers came in.

    Refused: no such question, or it is not open (closed before, by hand or the scheduler).
    """
    question = await Questions(services.session).get(question_id)
    if question is None:
        raise Refused("question.not_found", id=question_id)
    if not await _close(services, question, actor_id=actor_id):
        raise Refused("question.not_open", id=question_id)
    return question


async def close_due(services: Services) -> int:
    """The scheduler's job: close the questions whose closing time has come."""
    questions = Questions(services.session)
    closed = 0
    for question_id in await questions.due_to_close(services.now):
        question = await questions.get(question_id)
        if question is not None:
            closed += await _close(services, question, actor_id=None)
    return closed


async def _close(services: Services, question: OpenQuestion, *, actor_id: int | None) -> bool:
    questions = Questions(services.session)
    if not await questions.mark_closed(question.id, services.now):
        return False  # another process (or person) closed it first
    question.status = CLOSED
    count = await questions.count_answers(question.id)
    await services.audit("question.closed", actor_id=actor_id, subject=f"question:{question.id}")
    if question.created_by is not None:
        await services.notify_many(
            [question.created_by],
            lambda p: Outgoing(
                text=t(p.language, "question.closed_notice", id=question.id, count=count),
                purpose=Purpose.NOTICE,
            ),
        )
    return True


def closed_refusal(question: OpenQuestion) -> Refused:
    """Nothing was stored: say so, and since when (`when`, a datetime the caller formats in
    the person's language) the question is closed."""
    since = closed_since(question.closes_at, question.closed_at)
    if since is None:
        return Refused("question.closed_refused", id=question.id)
    return Refused("question.closed_since", id=question.id, when=since)


async def _meant_for(services: Services, question: OpenQuestion, person_id: int) -> bool:
    return await services.people.in_audience(person_id, Audience.from_dict(question.audience))


async def answerable(services: Services, question_id: int, person_id: int) -> OpenQuestion:
    """The question this person may answer now. Refused: no such question, closed or past
    its closing time, not meant for them."""
    question = await Questions(services.session).get(question_id)
    if question is None:
        raise Refused("question.not_found", id=question_id)
    if not accepts(question.status, question.closes_at, services.now):
        # Past its closing time, even if the scheduler has not closed it yet.
        raise closed_refusal(question)
    if not await _meant_for(services, question, person_id):
        raise Refused("question.not_in_audience", id=question.id)
    return question


async def may_start_answer(services: Services, question_id: int, person_id: int) -> OpenQuestion:
    """As `answerable`, and refused too when an anonymous answer was given already (it
    cannot be replaced, so typing one would be in vain)."""
    question = await answerable(services, question_id, person_id)
    if question.anonymous and await Questions(services.session).has_answered(question, person_id):
        raise Refused("question.anonymous_already", id=question.id)
    return question


async def open_for(services: Services, person_id: int) -> list[OpenQuestion]:
    """The open questions this person may answer now, oldest first (past their closing time
    they are left out, even if the scheduler has not closed them yet)."""
    recent = await Questions(services.session).recent(status=OPEN)
    return [
        q
        for q in reversed(recent)
        if accepts(q.status, q.closes_at, services.now) and await _meant_for(services, q, person_id)
    ]


@dataclass(frozen=True, slots=True)
class Answered:
    question: OpenQuestion
    outcome: AnswerOutcome  # NEW, REPLACED, UNCHANGED or ALREADY_ANSWERED (anonymous)


async def answer(services: Services, question_id: int, person_id: int, text: str) -> Answered:
    """Store a person's answer (named: replaces their earlier one; anonymous: no person,
    only the date, once). The caller holds the person's conversation lock.

    Refused: empty or longer than MAX_ANSWER (checked first: the person may retype), then
    the refusals of `answerable`.
    """
    text = text.strip()
    if not text:
        raise Refused("question.answer_empty")
    if len(text) > MAX_ANSWER:
        raise Refused("question.answer_too_long", max=MAX_ANSWER, length=len(text))
    question = await answerable(services, question_id, person_id)
    outcome = await Questions(services.session).answer(question, person_id, text, services.now)
    if outcome is AnswerOutcome.CLOSED:
        raise closed_refusal(question)
    return Answered(question, outcome)


# The refusals after which the person may simply type the answer again.
RETYPE = frozenset({"question.answer_empty", "question.answer_too_long"})


async def hide_answer(
    services: Services,
    answer_id: int,
    *,
    moderator_id: int,
    question_id: int | None = None,
    via: str | None = None,
) -> bool:
    """Hide an abusive answer: kept (audit log), never shown or exported again. False when
    it was hidden already.

    Refused: the person is no moderator; no such answer (or not one of `question_id`).
    """
    if not await services.people.roles(moderator_id) & MODERATORS:
        raise Refused("question.moderators_only")
    questions = Questions(services.session)
    found = await questions.get_answer(answer_id)
    if found is None or question_id not in (None, found.question_id):
        raise Refused("question.answer_not_found", id=answer_id)
    if not await questions.hide(answer_id, moderator_id, services.now):
        return False
    extra = {"via": via} if via else {}
    await services.audit(
        "answer.hidden",
        actor_id=moderator_id,
        subject=f"answer:{answer_id}",
        question=found.question_id,
        **extra,
    )
    return True
