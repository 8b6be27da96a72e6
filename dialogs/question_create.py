"""Guided open-question creation for OR members: the question, named or anonymous, closing
time, audience, then a preview to confirm. The question is made by the use case
(bot/usecases/questions.py), as on the dashboard and in the CLI.

The steps are declared on the dialog base (bot/dialog_steps.py): 'terug', 'stop',
'help'/'menu' and a re-ask that says why work at every step; choices are read as typed
("anoniem", "met naam", "productie", "versturen") and the closing time by the rule-based
time reader (bot/dialog_times.py), echoed back in words."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from bot.conversation import Turn
from bot.dialog_steps import Prompt, Refusal, Step, StepDialog
from bot.dialog_times import echo, read_time
from bot.messages import Choice
from bot.registry import Registry
from bot.usecases import Refused, questions
from bot.usecases.questions import MAX_QUESTION
from dialogs.audience import AudienceStep
from storage.people import Audience

NAME = "question_create"
P = "qc"
AUDIENCES = AudienceStep(P)
TEXT, ANONYMITY, CLOSES, AUDIENCE, CONFIRM = "text", "anonymity", "closes", "audience", "confirm"
# The step to ask again when creating is refused at the end.
REASK = {
    "qcreate.text_length": TEXT,
    "qcreate.bad_closes": CLOSES,
    "qcreate.audience_empty": AUDIENCE,
}


class QuestionCreate(StepDialog):
    name: ClassVar[str] = NAME
    prefix: ClassVar[str | None] = P
    title_key: ClassVar[str] = "dialog.title.question_create"

    def steps(self) -> Sequence[Step]:
        return (
            Step(TEXT, self._ask_text, self._parse_text, self._text, "qcreate.help_text"),
            Step(
                ANONYMITY,
                self._ask_anonymity,
                self.pick,
                self._anonymity,
                "qcreate.help_anonymity",
            ),
            Step(CLOSES, self._ask_closes, self._parse_closes, self._closes, "qcreate.help_closes"),
            Step(
                AUDIENCE,
                self._ask_audience,
                self._parse_audience,
                self._audience,
                "qcreate.help_audience",
            ),
            Step(CONFIRM, self._preview, self.pick, self._confirm, "qcreate.help_confirm"),
        )

    # The question.
    async def _ask_text(self, turn: Turn) -> Prompt:
        return Prompt(turn.t("qcreate.ask_text", max=MAX_QUESTION))

    async def _parse_text(self, turn: Turn) -> Any:
        try:
            return questions.check_text(turn.text)
        except Refused as refused:
            return Refusal.of(refused)

    async def _text(self, turn: Turn, text: str) -> str:
        turn.set(text=text)
        return ANONYMITY

    # Named or anonymous.
    async def _ask_anonymity(self, turn: Turn) -> Prompt:
        return Prompt(
            turn.t("qcreate.ask_anonymous"),
            [
                Choice(turn.t("qcreate.named"), f"{P}:named"),
                Choice(turn.t("qcreate.anonymous"), f"{P}:anon"),
                self.back_choice(turn),
            ],
        )

    async def _anonymity(self, turn: Turn, choice: str) -> str:
        turn.set(anonymous=choice == f"{P}:anon")
        return CLOSES

    # The closing time, or none.
    async def _ask_closes(self, turn: Turn) -> Prompt:
        return Prompt(
            turn.t("qcreate.ask_closes"),
            [Choice(turn.t("qcreate.no_close"), f"{P}:noclose"), self.back_choice(turn)],
        )

    async def _parse_closes(self, turn: Turn) -> Any:
        if turn.choice == f"{P}:noclose":
            return None
        when = read_time(turn, P)
        if isinstance(when, Refusal):
            return when
        try:
            questions.check_closes(when, turn.services.now)
        except Refused as refused:
            return Refusal.of(refused)
        return when

    async def _closes(self, turn: Turn, when: datetime | None) -> str:
        turn.set(closes=when.isoformat() if when else None)
        if when is not None:
            echo(turn, when)
        return AUDIENCE

    # Everyone, a department or a location (dialogs/audience.py).
    async def _ask_audience(self, turn: Turn) -> Prompt:
        offered = await AUDIENCES.offer(turn)
        return Prompt(turn.t("qcreate.ask_audience"), [*offered, self.back_choice(turn)])

    async def _parse_audience(self, turn: Turn) -> Any:
        segment = AUDIENCES.parse(turn)
        return segment if isinstance(segment, Refusal) else AUDIENCES.as_audience(segment)

    async def _audience(self, turn: Turn, audience: dict[str, str]) -> str:
        turn.set(audience=audience)
        return CONFIRM

    # The preview: send now, or discard.
    async def _preview(self, turn: Turn) -> Prompt:
        s = turn.state
        lines = [turn.t("qcreate.preview"), "", s["text"], ""]
        lines.append(turn.t("qcreate.anonymous" if s.get("anonymous") else "qcreate.named"))
        if s.get("closes"):
            when = turn.services.format_time(datetime.fromisoformat(s["closes"]), turn.lang)
            lines.append(turn.t("question.closes", when=when))
        audience = s.get("audience") or {}
        if audience:
            kind, value = next(iter(audience.items()))
            lines.append(turn.t(f"create.{kind}", name=value))
        else:
            lines.append(turn.t("create.everyone"))
        return Prompt(
            "\n".join(lines),
            [
                Choice(turn.t("qcreate.send_now"), f"{P}:send"),
                Choice(turn.t("qcreate.discard"), f"{P}:discard"),
                self.back_choice(turn),
            ],
        )

    async def _confirm(self, turn: Turn, choice: str) -> str | None:
        if choice == f"{P}:discard":
            turn.end()
            turn.reply(turn.t("common.cancelled"))
            return None
        s = turn.state
        try:
            opened = await questions.create(
                turn.services,
                text=s["text"],
                anonymous=bool(s.get("anonymous")),
                audience=Audience.from_dict(s.get("audience")),
                closes_at=datetime.fromisoformat(s["closes"]) if s.get("closes") else None,
                created_by=turn.person.id,
            )
        except Refused as refused:
            turn.reply(turn.refusal(refused))
            if refused.key in REASK:
                # The roster or the clock moved on since that step was answered: back to it.
                return REASK[refused.key]
            turn.end()
            return None
        turn.end()
        turn.reply(turn.t("qcreate.opened", id=opened.question.id, count=opened.sent))
        return None


async def new_question(turn: Turn, _rest: str) -> None:
    await turn.begin(NAME)


def register(registry: Registry) -> None:
    registry.dialog(QuestionCreate(), buttons=P)
    registry.command(
        "commands.new_question", new_question, or_only=True, help_key="qcreate.help_new"
    )
