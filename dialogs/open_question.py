"""Open questions: the question as sent, answering it in free text, and for the OR reading,
closing and (moderators) hiding answers.

The question carries a button `oq:<id>:answer` (valid as long as the question is open); the
answer itself is the next message, typed in a one-step dialog. Named answers may be replaced
while the question is open; anonymous answers are stored with no person and only the date.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

from bot.conversation import Services, Turn
from bot.i18n import t
from bot.messages import Choice, Outgoing, Purpose
from bot.registry import Registry
from bot.text import ascii_int
from dialogs import steps
from storage.deadline import accepts, closed_since
from storage.models import OpenQuestion
from storage.people import Audience
from storage.questions import CLOSED, OPEN, AnswerOutcome, Questions

MAX_ANSWER = 2000
ANSWER = "open_answer"
SHOWN_ANSWERS = 30


def question_message(services: Services, question: OpenQuestion, lang: str) -> Outgoing:
    lines = [t(lang, "question.header", id=question.id), question.text, ""]
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


async def open_question(services: Services, question: OpenQuestion, *, actor_id: int | None) -> int:
    """Send a new question to its audience; returns how many got it."""
    audience = await services.people.audience_ids(Audience.from_dict(question.audience))
    await Questions(services.session).set_audience_size(question.id, len(audience))
    question.audience_size = len(audience)
    sent = await services.notify_many(
        audience, lambda p: question_message(services, question, p.language), prompt=True
    )
    await services.audit(
        "question.opened", actor_id=actor_id, subject=f"question:{question.id}", audience=sent
    )
    return sent


async def close_question(
    services: Services, question: OpenQuestion, *, actor_id: int | None
) -> bool:
    """Close an open question; its author hears how many answers came in."""
    questions = Questions(services.session)
    if not await questions.mark_closed(question.id, services.now):
        return False
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


async def close_due_questions(services: Services) -> int:
    questions = Questions(services.session)
    closed = 0
    for question_id in await questions.due_to_close(services.now):
        question = await questions.get(question_id)
        if question is not None:
            closed += await close_question(services, question, actor_id=None)
    return closed


def refuse_closed(turn: Turn, question: OpenQuestion) -> None:
    """Nothing was stored: say so, and since when the question is closed."""
    since = closed_since(question.closes_at, question.closed_at)
    if since is None:
        turn.reply(turn.t("question.closed_refused", id=question.id))
        return
    when = turn.services.format_time(since, turn.lang)
    turn.reply(turn.t("question.closed_since", id=question.id, when=when))


async def _answerable(turn: Turn, question_id: int) -> OpenQuestion | None:
    question = await Questions(turn.services.session).get(question_id)
    if question is None:
        turn.reply(turn.t("question.not_found", id=question_id))
        return None
    if not accepts(question.status, question.closes_at, turn.services.now):
        # Past its closing time, even if the scheduler has not closed it yet.
        refuse_closed(turn, question)
        return None
    audience = Audience.from_dict(question.audience)
    if not await turn.services.people.in_audience(turn.person.id, audience):
        turn.reply(turn.t("question.not_in_audience", id=question.id))
        return None
    return question


async def begin_answer(turn: Turn, question_id: int) -> None:
    question = await _answerable(turn, question_id)
    if question is None:
        return
    questions = Questions(turn.services.session)
    if question.anonymous and await questions.has_answered(question, turn.person.id):
        turn.reply(turn.t("question.anonymous_already", id=question.id))
        return
    await turn.begin(ANSWER, question=question.id)


async def on_question_button(turn: Turn, payload: str) -> None:
    bits = payload.split(":")
    question_id = ascii_int(bits[1]) if len(bits) == 3 else None
    if question_id is None or bits[2] != "answer":
        turn.reply(turn.t("common.button_invalid"))
        return
    await begin_answer(turn, question_id)


class OpenAnswer:
    """One step: the answer text. 'terug'/'back' leaves without answering."""

    name: ClassVar[str] = ANSWER

    async def start(self, turn: Turn) -> None:
        question_id = int(turn.state["question"])
        question = await Questions(turn.services.session).get(question_id)
        lines = [turn.t("question.ask_answer", id=question_id, max=MAX_ANSWER)]
        if question is not None:
            lines.insert(0, question.text)
            own = await Questions(turn.services.session).own_answer(question_id, turn.person.id)
            if own is not None and not question.anonymous:
                lines.append(turn.t("question.current_answer", text=own.text))
        turn.reply("\n\n".join(lines), [steps.back_choice(turn, "oa")])

    async def step(self, turn: Turn) -> None:
        question_id = int(turn.state["question"])
        if steps.wants_back(turn, "oa"):
            turn.end()
            turn.reply(turn.t("question.answer_dropped", id=question_id))
            return
        text = turn.text
        if not text:
            turn.reply(turn.t("question.answer_empty"))
            return
        if len(text) > MAX_ANSWER:
            turn.reply(turn.t("question.answer_too_long", max=MAX_ANSWER, length=len(text)))
            return
        turn.end()
        question = await _answerable(turn, question_id)
        if question is None:
            return
        outcome = await Questions(turn.services.session).answer(
            question, turn.person.id, text, turn.services.now
        )
        if outcome is AnswerOutcome.CLOSED:
            refuse_closed(turn, question)
            return
        key = {
            AnswerOutcome.NEW: "question.answered_anonymous"
            if question.anonymous
            else "question.answered",
            AnswerOutcome.REPLACED: "question.answer_replaced",
            AnswerOutcome.UNCHANGED: "question.answer_unchanged",
            AnswerOutcome.ALREADY_ANSWERED: "question.anonymous_already",
        }[outcome]
        turn.reply(turn.t(key, id=question.id))


def _with_id(
    fn: Callable[[Turn, int], Awaitable[None]], need_key: str
) -> Callable[[Turn, str], Awaitable[None]]:
    async def handler(turn: Turn, rest: str) -> None:
        number = ascii_int(rest.lstrip("#").strip())
        if number is not None:
            await fn(turn, number)
        else:
            turn.reply(turn.t(need_key))

    return handler


async def list_open_questions(turn: Turn, _rest: str) -> None:
    """Re-send the open questions the person may answer (buttons at hand again)."""
    sent = 0
    for q in reversed(await Questions(turn.services.session).recent(status=OPEN)):
        if not accepts(q.status, q.closes_at, turn.services.now):
            continue  # past its closing time; the scheduler has not closed it yet
        if not await turn.services.people.in_audience(
            turn.person.id, Audience.from_dict(q.audience)
        ):
            continue
        message = question_message(turn.services, q, turn.lang)
        turn.reply(message.text, message.choices)
        sent += 1
    if not sent:
        turn.reply(turn.t("question.none_open"))


async def show_answers(turn: Turn, question_id: int) -> None:
    questions = Questions(turn.services.session)
    question = await questions.get(question_id)
    if question is None:
        turn.reply(turn.t("question.not_found", id=question_id))
        return
    rows = await questions.answers(question)
    lines = [turn.t("question.answers_header", id=question.id, count=len(rows)), question.text, ""]
    for row in rows[:SHOWN_ANSWERS]:
        who = f"{row.name} ({row.department or '-'})" if row.name else turn.t("question.anonymous")
        lines.append(f"#{row.id} · {row.answered_on} · {who}\n{row.text}\n")
    if len(rows) > SHOWN_ANSWERS:
        lines.append(turn.t("question.answers_more", count=len(rows) - SHOWN_ANSWERS))
    turn.reply("\n".join(lines).rstrip())


async def close_by_command(turn: Turn, question_id: int) -> None:
    question = await Questions(turn.services.session).get(question_id)
    if question is None:
        turn.reply(turn.t("question.not_found", id=question_id))
    elif await close_question(turn.services, question, actor_id=turn.person.id):
        turn.reply(turn.t("question.closed_by_you", id=question_id))
    else:
        turn.reply(turn.t("question.not_open", id=question_id))


async def hide_answer(turn: Turn, answer_id: int) -> None:
    """Moderators hide an abusive answer: kept (audit log), never shown again."""
    if not turn.roles & {"moderator", "admin"}:
        turn.reply(turn.t("question.moderators_only"))
        return
    questions = Questions(turn.services.session)
    answer = await questions.get_answer(answer_id)
    if answer is None:
        turn.reply(turn.t("question.answer_not_found", id=answer_id))
        return
    if await questions.hide(answer_id, turn.person.id, turn.services.now):
        await turn.services.audit(
            "answer.hidden",
            actor_id=turn.person.id,
            subject=f"answer:{answer_id}",
            question=answer.question_id,
        )
        turn.reply(turn.t("question.answer_hidden", id=answer_id))
    else:
        turn.reply(turn.t("question.answer_already_hidden", id=answer_id))


def register(registry: Registry) -> None:
    registry.periodic("questions_close", close_due_questions)
    registry.action("oq", on_question_button)
    registry.dialog(OpenAnswer(), buttons="oa")
    registry.command("commands.questions", list_open_questions, help_key="question.help_questions")
    registry.command(
        "commands.answer",
        _with_id(begin_answer, "question.need_id"),
        help_key="question.help_answer",
    )
    registry.command(
        "commands.answers",
        _with_id(show_answers, "question.need_id"),
        or_only=True,
        help_key="question.help_answers",
    )
    registry.command(
        "commands.close_question",
        _with_id(close_by_command, "question.need_id"),
        or_only=True,
        help_key="question.help_close",
    )
    registry.command("commands.hide_answer", _with_id(hide_answer, "question.need_answer_id"))
