"""Guided open-question creation for OR members: the question, named or anonymous, closing
time, audience, then a preview to confirm. 'terug'/'back' goes one step back."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from bot.conversation import Turn
from bot.messages import Choice
from bot.registry import Registry
from bot.text import ascii_int
from bot.usecases import Refused, questions
from bot.usecases.questions import MAX_QUESTION
from dialogs import steps
from dialogs.when import parse_when
from storage.people import Audience

NAME = "question_create"
P = "qc"
TEXT, ANONYMITY, CLOSES, AUDIENCE, CONFIRM = "text", "anonymity", "closes", "audience", "confirm"
# The step to ask again when creating is refused at the end.
REASK = {
    "qcreate.text_length": TEXT,
    "qcreate.bad_closes": CLOSES,
    "qcreate.audience_empty": AUDIENCE,
}


class QuestionCreate:
    name: ClassVar[str] = NAME

    async def start(self, turn: Turn) -> None:
        turn.set(step=TEXT, trail=[])
        await self.ask(turn)

    async def step(self, turn: Turn) -> None:
        if not await steps.go_back(turn, P, self.ask):
            await getattr(self, f"_{turn.state.get('step', TEXT)}")(turn)

    async def ask(self, turn: Turn) -> None:
        step = turn.state.get("step", TEXT)
        back = steps.back_choice(turn, P)
        if step == TEXT:
            turn.reply(turn.t("qcreate.ask_text", max=MAX_QUESTION))
        elif step == ANONYMITY:
            turn.ask(
                turn.t("qcreate.ask_anonymous"),
                [
                    Choice(turn.t("qcreate.named"), f"{P}:named"),
                    Choice(turn.t("qcreate.anonymous"), f"{P}:anon"),
                    back,
                ],
            )
        elif step == CLOSES:
            turn.ask(
                turn.t("qcreate.ask_closes"),
                [Choice(turn.t("qcreate.no_close"), f"{P}:noclose"), back],
            )
        elif step == AUDIENCE:
            await self._ask_audience(turn)
        else:
            turn.ask(
                self._preview(turn),
                [
                    Choice(turn.t("qcreate.send_now"), f"{P}:send"),
                    Choice(turn.t("qcreate.discard"), f"{P}:discard"),
                    back,
                ],
            )

    async def _text(self, turn: Turn) -> None:
        try:
            steps.advance(turn, ANONYMITY, text=questions.check_text(turn.text))
        except Refused as refused:
            turn.reply(turn.refusal(refused))
        await self.ask(turn)

    async def _anonymity(self, turn: Turn) -> None:
        if turn.choice in (f"{P}:named", f"{P}:anon"):
            steps.advance(turn, CLOSES, anonymous=turn.choice == f"{P}:anon")
        await self.ask(turn)

    async def _closes(self, turn: Turn) -> None:
        services = turn.services
        if turn.choice == f"{P}:noclose":
            steps.advance(turn, AUDIENCE, closes=None)
        else:
            when = parse_when(turn.text, now=services.now, timezone=services.settings.timezone)
            try:
                if when is None:
                    raise Refused("qcreate.bad_closes")
                questions.check_closes(when, services.now)
            except Refused as refused:
                turn.reply(turn.refusal(refused))
            else:
                steps.advance(turn, AUDIENCE, closes=when.isoformat())
        await self.ask(turn)

    async def _ask_audience(self, turn: Turn) -> None:
        people = turn.services.people
        segments = [["department", d] for d in await people.departments()]
        segments += [["location", loc] for loc in await people.locations()]
        turn.set(segments=segments)
        choices = [Choice(turn.t("create.everyone"), f"{P}:aud:all")]
        for i, (kind, value) in enumerate(segments):
            choices.append(Choice(turn.t(f"create.{kind}", name=value), f"{P}:aud:{i}"))
        turn.ask(turn.t("qcreate.ask_audience"), [*choices, steps.back_choice(turn, P)])

    async def _audience(self, turn: Turn) -> None:
        segments = turn.state.get("segments", [])
        choice = (turn.choice or "").removeprefix(f"{P}:aud:")
        if choice == "all":
            steps.advance(turn, CONFIRM, audience={})
        elif (n := ascii_int(choice, high=len(segments) - 1)) is not None:
            kind, value = segments[n]
            steps.advance(turn, CONFIRM, audience={kind: value})
        await self.ask(turn)

    def _preview(self, turn: Turn) -> str:
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
        return "\n".join(lines)

    async def _confirm(self, turn: Turn) -> None:
        if turn.choice == f"{P}:discard":
            turn.end()
            turn.reply(turn.t("common.cancelled"))
            return
        if turn.choice != f"{P}:send":
            await self.ask(turn)
            return
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
                _return_to(turn, REASK[refused.key])
                await self.ask(turn)
            else:
                turn.end()
            return
        turn.end()
        turn.reply(turn.t("qcreate.opened", id=opened.question.id, count=opened.sent))


def _return_to(turn: Turn, step: str) -> None:
    """Make an earlier step current again, with the trail it had then."""
    trail = list(turn.state.get("trail", []))
    while trail and trail.pop() != step:
        pass
    turn.set(step=step, trail=trail)


async def new_question(turn: Turn, _rest: str) -> None:
    await turn.begin(NAME)


def register(registry: Registry) -> None:
    registry.dialog(QuestionCreate(), buttons=P)
    registry.command(
        "commands.new_question", new_question, or_only=True, help_key="qcreate.help_new"
    )
