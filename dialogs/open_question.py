"""Open questions: the question as sent, answering it in free text, and for the OR reading,
closing and (moderators) hiding answers.

The question carries a button `oq:<id>:answer` (valid as long as the question is open); the
answer itself is the next message, typed in a one-step dialog. Named answers may be replaced
while the question is open; anonymous answers are stored with no person and only the date.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

from bot.conversation import Turn
from bot.dialog_steps import back_button, wants_back, wants_help
from bot.i18n import pick
from bot.registry import Registry
from bot.text import ascii_int
from bot.understand.intents import numbered_answer
from bot.usecases import Refused, questions
from bot.usecases.questions import MAX_ANSWER, question_message
from storage.questions import AnswerOutcome, Questions

ANSWER = "open_answer"
SHOWN_ANSWERS = 30


async def begin_answer(turn: Turn, question_id: int) -> None:
    try:
        question = await questions.may_start_answer(turn.services, question_id, turn.person.id)
    except Refused as refused:
        turn.reply(turn.refusal(refused))
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
    """One step: the answer text. 'terug'/'back' leaves without answering, 'stop' too (the
    router), and 'help'/'menu' explains and asks again."""

    name: ClassVar[str] = ANSWER

    async def start(self, turn: Turn, before: str | None = None) -> None:
        question_id = int(turn.state["question"])
        question = await Questions(turn.services.session).get(question_id)
        lines = [turn.t("question.ask_answer", id=question_id, max=MAX_ANSWER)]
        if before:
            lines.insert(0, before)
        if question is not None:
            lines.insert(0, pick(turn.lang, question.text, question.text_en))
            own = await Questions(turn.services.session).own_answer(question_id, turn.person.id)
            if own is not None and not question.anonymous:
                lines.append(turn.t("question.current_answer", text=own.text))
        turn.reply("\n\n".join(lines), [back_button(turn, "oa")])

    async def step(self, turn: Turn) -> None:
        question_id = int(turn.state["question"])
        if wants_back(turn, "oa"):
            turn.end()
            turn.reply(turn.t("question.answer_dropped", id=question_id))
            return
        if wants_help(turn):
            # 'help' / 'menu' explains and asks again; it is never taken as the answer.
            explain = turn.t("question.help_answer_step") + "\n" + turn.t("dialog.words")
            await self.start(turn, before=explain)
            return
        try:
            answered = await questions.answer(turn.services, question_id, turn.person.id, turn.text)
        except Refused as refused:
            if refused.key not in questions.RETYPE:
                turn.end()
            turn.reply(turn.refusal(refused))
            return
        turn.end()
        _say_answered(turn, answered)


async def answer_typed(turn: Turn, question_id: int, text: str) -> None:
    """ "antwoord 1 meer personeel in het magazijn": the answer typed in one line with the
    question's number, stored as if typed at the question's own prompt."""
    try:
        answered = await questions.answer(turn.services, question_id, turn.person.id, text)
    except Refused as refused:
        turn.reply(turn.refusal(refused))
        return
    _say_answered(turn, answered)


def _say_answered(turn: Turn, answered: questions.Answered) -> None:
    question, outcome = answered.question, answered.outcome
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
    for q in await questions.open_for(turn.services, turn.person.id):
        message = question_message(turn.services, q, turn.lang)
        turn.reply(message.text, message.choices)
        sent += 1
    if not sent:
        turn.reply(turn.t("question.none_open"))


async def show_answers(turn: Turn, question_id: int) -> None:
    store = Questions(turn.services.session)
    question = await store.get(question_id)
    if question is None:
        turn.reply(turn.t("question.not_found", id=question_id))
        return
    rows = await store.answers(question)
    lines = [turn.t("question.answers_header", id=question.id, count=len(rows)), question.text, ""]
    for row in rows[:SHOWN_ANSWERS]:
        who = f"{row.name} ({row.department or '-'})" if row.name else turn.t("question.anonymous")
        lines.append(f"#{row.id} · {row.answered_on} · {who}\n{row.text}\n")
    if len(rows) > SHOWN_ANSWERS:
        lines.append(turn.t("question.answers_more", count=len(rows) - SHOWN_ANSWERS))
    turn.reply("\n".join(lines).rstrip())


async def close_by_command(turn: Turn, question_id: int) -> None:
    try:
        await questions.close(turn.services, question_id, actor_id=turn.person.id)
    except Refused as refused:
        turn.reply(turn.refusal(refused))
        return
    turn.reply(turn.t("question.closed_by_you", id=question_id))


async def hide_answer(turn: Turn, answer_id: int) -> None:
    """Moderators hide an abusive answer: kept (audit log), never shown again."""
    try:
        hidden = await questions.hide_answer(turn.services, answer_id, moderator_id=turn.person.id)
    except Refused as refused:
        turn.reply(turn.refusal(refused))
        return
    key = "question.answer_hidden" if hidden else "question.answer_already_hidden"
    turn.reply(turn.t(key, id=answer_id))


async def answer_command(turn: Turn, rest: str) -> None:
    """'antwoord 12' opens question 12's prompt; 'antwoord 12 <text>' (also 'antwoord op
    vraag 12: <text>') answers it at once."""
    found = numbered_answer(rest)
    if found is not None:
        await answer_typed(turn, *found)
        return
    await _with_id(begin_answer, "question.need_id")(turn, rest)


def register(registry: Registry) -> None:
    registry.periodic("questions_close", questions.close_due)
    registry.action("oq", on_question_button)
    registry.dialog(OpenAnswer(), buttons="oa")
    # A considered answer may take longer than a draft; the question's own closing time ends it
    # (an answer after that is refused with the time it closed).
    registry.keep_own_time(OpenAnswer.name)
    registry.command("commands.questions", list_open_questions, help_key="question.help_questions")
    registry.command(
        "commands.answer",
        answer_command,
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
