"""Answering a survey in the chat: one question at a time, on any channel.

The invitation's button (`svy:<id>:start`) or typing 'raadpleging 3' starts the dialog, or
resumes it where the person left off: their answers so far live sealed in the survey's
register (bot/surveys/progress.py), keyed by the person, so pausing on WhatsApp and going on
in Teams is one respondent. The dialog state holds only the survey, the question number and
whether the "waarom?" of that question is asked: never an answer. In an anonymous survey
every reply is sealed (`turn.sealed`), so a reply that repeats an answer (after 'terug', the
summary at the end) waits in the outbox encrypted and its text is not kept in the state.

Words at every question: a button, a number or a label (bot/understand/answers.py reads
typed replies; two readings ask back), 'overslaan' (skip), 'terug' (the previous question,
to change it), 'pauze' (stop for now), 'stop' (the router ends any dialog), 'help'.
"""

from __future__ import annotations

from typing import Any, ClassVar

from bot.choices import fold
from bot.conversation import Turn
from bot.dialog_steps import wants_back, wants_help
from bot.i18n import all_words
from bot.messages import PAYLOAD_JOIN, Choice
from bot.registry import EachDue, Registry
from bot.surveys.progress import Given
from bot.surveys.render import answer_text, results_text
from bot.text import ascii_int
from bot.understand.answers import Ambiguous, Matched, understand_answer
from bot.usecases import surveys as survey_cases
from bot.usecases.surveys import NPS, OPEN_TEXT, SCALE, Answering, SurveyRefused
from storage.surveys import Surveys

PREFIX = "svq"
BACK, SEND = f"{PREFIX}:back", f"{PREFIX}:send"


def _answer_payload(position: int, value: int) -> str:
    """An answer button names its question: pressed later, on an older message, it answers
    that question (a change), never the one being asked now."""
    return f"{PREFIX}:a:{position}:{value}"


def _skip_payload(position: int) -> str:
    return f"{PREFIX}:skip:{position}"


def _values(payload: str) -> tuple[int, list[int]] | None:
    """(question position, values) of one or more joined answer buttons of one question."""
    positions, values = set(), []
    for part in payload.split(PAYLOAD_JOIN):
        bits = part.split(":")
        if len(bits) != 4 or bits[:2] != [PREFIX, "a"]:
            return None
        position, value = ascii_int(bits[2]), ascii_int(bits[3])
        if position is None or value is None:
            return None
        positions.add(position)
        values.append(value)
    return (positions.pop(), values) if len(positions) == 1 else None


def _typed(turn: Turn, key: str) -> bool:
    return not turn.incoming.choice and fold(turn.text) in all_words(key)


class SurveyDialog:
    name: ClassVar[str] = "survey"
    # In "your unfinished … was stopped" after the dialog timeout: the answers stay.
    title_key: ClassVar[str] = "survey.dialog_title"

    async def start(self, turn: Turn) -> None:
        answering = await self._load(turn)
        if answering is None:
            return
        first = answering.progress.next_position(len(answering.questions))
        await self._ask(turn, answering, first or len(answering.questions) + 1)

    async def step(self, turn: Turn) -> None:
        answering = await self._load(turn)
        if answering is None:
            return
        count = len(answering.questions)
        pos = int(turn.state.get("pos") or 1)
        why = bool(turn.state.get("why"))
        pressed = _values(turn.choice) if turn.choice else None
        if pressed is not None and 1 <= pressed[0] <= count:
            pos, why = pressed[0], False  # a button of that question (maybe an older one)
        elif (turn.choice or "").startswith(f"{PREFIX}:skip:") and (
            turn.choice != _skip_payload(pos)
        ):
            await self._ask(turn, answering, pos, why=why)  # an older question's button
            return
        if _typed(turn, "survey.pause_words"):
            turn.end()
            turn.reply(turn.t("survey.paused", id=answering.survey.id))
            return
        if wants_back(turn, PREFIX) or turn.choice == BACK:
            await self._back(turn, answering, pos, why)
            return
        if wants_help(turn):
            await self._ask(turn, answering, pos, why=why, before=turn.t("survey.words_hint"))
            return
        if pos > count:
            await self._confirm(turn, answering)
            return
        question = answering.questions[pos - 1]
        given = self._read(turn, answering, pos, why)
        if isinstance(given, str):
            await self._ask(turn, answering, pos, why=why, before=given)
            return
        try:
            await survey_cases.record(turn.services, answering, pos, given)
        except SurveyRefused as refused:
            await self._ask(turn, answering, pos, why=why, before=turn.refusal(refused))
            return
        if question.why and not why:
            # Also after a skip: how many messages someone gets must not say whether they
            # answered (the outbox keeps who was sent how many, without the texts).
            await self._ask(turn, answering, pos, why=True)
            return
        # On to the first question not yet answered: the next one, or (after 'terug' to
        # change an earlier answer) back to where they were, or the confirmation.
        await self._ask(turn, answering, answering.progress.next_position(count) or count + 1)

    # --- reading an answer ------------------------------------------------------------

    def _read(self, turn: Turn, answering: Answering, pos: int, why: bool) -> Given | str:
        """The answer in this message, or the reason (a text) why it was not taken."""
        question = answering.questions[pos - 1]
        current = answering.progress.given.get(pos, Given())
        if turn.choice == _skip_payload(pos) or _typed(turn, "survey.skip_words"):
            return Given(current.numbers, None) if why else Given()
        if why:
            return Given(current.numbers, turn.text)
        if question.kind == OPEN_TEXT:
            return Given(None, turn.text) if turn.text else turn.t("survey.not_understood")
        typed_number = not turn.incoming.choice and ascii_int(turn.text) is not None
        pressed = _values(turn.choice) if turn.choice else None
        if pressed is not None and pressed[0] == pos:
            return Given(pressed[1])
        choices = self._choices(turn, answering, pos)[0]
        read = understand_answer(turn.text, choices, multiple=question.kind == "multiple")
        if isinstance(read, Matched):
            matched = _values(PAYLOAD_JOIN.join(read.payloads))
            if matched is not None and matched[0] == pos:
                return Given(matched[1])
        if isinstance(read, Ambiguous):
            labels = {c.payload: c.label for c in choices}
            named = " / ".join(f"'{labels.get(p, p)}'" for p in read.candidates)
            return turn.t("survey.ambiguous", options=named)
        if question.kind in (SCALE, NPS) and typed_number:
            return turn.t("surveyrule.answer_range", **self._range(question))
        return turn.t("survey.not_understood")

    @staticmethod
    def _range(question: Any) -> dict[str, int]:
        low, high = survey_cases.NPS_RANGE if question.kind == NPS else survey_cases.SCALE_RANGE
        return {"low": low, "high": high}

    # --- asking -------------------------------------------------------------------------

    def _choices(self, turn: Turn, answering: Answering, pos: int) -> tuple[list[Choice], bool]:
        question = answering.questions[pos - 1]
        values = [(v, label) for v, label in _labels(question)]
        choices = [Choice(label, _answer_payload(pos, v)) for v, label in values]
        return choices, question.kind == "multiple"

    async def _ask(
        self, turn: Turn, answering: Answering, pos: int, *, why: bool = False,
        before: str | None = None,
    ) -> None:  # fmt: skip
        """Question `pos` (or the "waarom?" after it, or the confirmation after the last)."""
        turn.set(survey=answering.survey.id, pos=pos, why=why)
        count = len(answering.questions)
        lines = [before, ""] if before else []
        controls = [Choice(turn.t("survey.skip_button"), _skip_payload(pos))]
        if pos > 1 or why:
            controls.append(Choice(turn.t("survey.back_button"), BACK))
        if pos > count:
            lines.append(turn.t("survey.confirm"))
            send = [
                Choice(turn.t("survey.send_button"), SEND),
                Choice(turn.t("survey.back_button"), BACK),
            ]
            turn.ask("\n".join(lines), send)
            return
        question = answering.questions[pos - 1]
        given = answering.progress.given.get(pos)
        lines.append(turn.t("survey.question_header", position=pos, count=count))
        lines.append(question.text)
        if why:
            skipped = given is None or given.numbers is None
            lines.append(turn.t("survey.why_after_skip" if skipped else "survey.why"))
            turn.reply("\n".join(lines), controls)
            return
        if given is not None:
            lines.append(turn.t("survey.current", answer=answer_text(question, given, turn.lang)))
        lines.append(_hint(turn, question))
        if question.kind == OPEN_TEXT:
            # No typed answer is read as a button here: "1" is an answer, not "Overslaan".
            turn.reply("\n".join(lines), controls)
            return
        choices, multiple = self._choices(turn, answering, pos)
        if question.kind in (SCALE, NPS):
            # The values alone: a 1-5 scale stays five buttons on Slack, and no typed number
            # can be read as a control by its position ('overslaan' and 'terug' are typed).
            lines.append(turn.t("survey.words_hint"))
            controls = []
        turn.ask("\n".join(lines), [*choices, *controls], multiple=multiple)

    async def _back(self, turn: Turn, answering: Answering, pos: int, why: bool) -> None:
        if why:
            await self._ask(turn, answering, pos)
            return
        if pos <= 1:
            await self._ask(turn, answering, 1, before=turn.t("survey.first_question"))
            return
        await self._ask(turn, answering, pos - 1)

    async def _confirm(self, turn: Turn, answering: Answering) -> None:
        if turn.choice != SEND and not _typed(turn, "survey.send_words"):
            await self._ask(turn, answering, len(answering.questions) + 1)
            return
        try:
            finished = await survey_cases.finish(turn.services, answering)
        except SurveyRefused as refused:
            turn.end()
            turn.reply(turn.refusal(refused))
            return
        survey = answering.survey
        lines = [
            turn.t(
                "survey.sent_anonymous" if survey.anonymous else "survey.sent_named", id=survey.id
            ),
            "",
            turn.t("survey.summary_head"),
        ]
        for question in answering.questions:
            given = finished.given.get(question.position, Given())
            lines.append(
                f"{question.position}. {question.text}: {answer_text(question, given, turn.lang)}"
            )
        if survey.anonymous:
            lines += ["", turn.t("survey.summary_anonymous")]
        turn.end()
        turn.reply("\n".join(lines))

    async def _load(self, turn: Turn) -> Answering | None:
        """The survey as the person answers it now; a refusal ends the dialog."""
        survey_id = int(turn.state.get("survey") or 0)
        try:
            answering = await survey_cases.begin(
                turn.services, survey_id, turn.person, turn.incoming.channel
            )
        except SurveyRefused as refused:
            turn.end()
            turn.reply(turn.refusal(refused))
            return None
        turn.sealed = answering.survey.anonymous
        return answering


def _labels(question: Any) -> list[tuple[int, str]]:
    from bot.surveys.results import values_of

    return values_of(question)


def _hint(turn: Turn, question: Any) -> str:
    if question.kind == SCALE:
        return turn.t("survey.scale_hint", low=question.low, high=question.high)
    if question.kind == NPS:
        return turn.t("survey.nps_hint")
    if question.kind == OPEN_TEXT:
        return turn.t("survey.open_hint")
    return turn.t("survey.pick_many" if question.kind == "multiple" else "survey.pick_one")


# --- starting, and the OR's results ------------------------------------------------------


async def on_survey_button(turn: Turn, payload: str) -> None:
    bits = payload.split(":")
    survey_id = ascii_int(bits[1]) if len(bits) == 3 and bits[2] == "start" else None
    if survey_id is None:
        turn.reply(turn.t("common.button_invalid"))
        return
    await turn.begin("survey", survey=survey_id)


async def answer_command(turn: Turn, rest: str) -> None:
    """'raadpleging 3': start or resume; without a number, the open ones for this person."""
    survey_id = ascii_int(rest.strip().lstrip("#"))
    if survey_id is not None:
        await turn.begin("survey", survey=survey_id)
        return
    surveys = await Surveys(turn.services.session).open_for(turn.person)
    done = []
    for survey in surveys:
        part = await Surveys(turn.services.session).participation(survey.id, turn.person.id)
        if part is None or not part.finished:
            done.append(survey)
    if not done:
        turn.reply(turn.t("survey.none_open"))
        return
    if len(done) == 1:
        await turn.begin("survey", survey=done[0].id)
        return
    listing = ", ".join(f"{s.id} ({s.title})" for s in done)
    turn.reply(turn.t("survey.open_list", list=listing) + "\n" + turn.t("survey.which"))


async def results_command(turn: Turn, rest: str) -> None:
    survey_id = ascii_int(rest.strip().lstrip("#"))
    if survey_id is None:
        turn.reply(turn.t("survey.which"))
        return
    try:
        result = await survey_cases.results(turn.services, survey_id)
    except SurveyRefused as refused:
        turn.reply(turn.refusal(refused))
        return
    turn.reply(results_text(result, turn.lang))


def register(registry: Registry) -> None:
    registry.dialog(SurveyDialog(), buttons=PREFIX)
    # A survey keeps its own time: its progress is sealed in the register and it closes at its
    # closing time. Timed out, a typed "3" for question 3 would be read outside the survey
    # (as an answer to an older poll, say): a misread.
    registry.keep_own_time(SurveyDialog.name)
    registry.action("svy", on_survey_button)
    registry.command("commands.survey", answer_command, help_key="survey.help_answer")
    registry.command(
        "commands.survey_results", results_command, or_only=True, help_key="survey.help_results"
    )
    uc = survey_cases
    registry.periodic("surveys_remind", EachDue(due=uc.due_to_remind, each=uc.remind_one))
    registry.periodic("surveys_close", EachDue(due=uc.due_to_close, each=uc.close_one))
    registry.periodic("surveys_open", EachDue(due=uc.due_to_open, each=uc.open_one))
