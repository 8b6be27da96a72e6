"""A consultation made in the chat by an OR member ('nieuwe raadpleging'): pick one of the
templates (in the member's language), say when it closes ("vrijdag 17:00", "vanavond 19:30"),
pick the audience, check the preview and open it. Questions of one's own are written in a
file (`achterban survey create --file`) or on the dashboard; all three call the same use case
(bot/usecases/surveys.py create_survey), so its rules hold here too.

The steps are declared on the dialog base (bot/dialog_steps.py): 'terug', 'stop', 'help' and
a re-ask that says why at every step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, ClassVar

from bot.conversation import Turn
from bot.dialog_steps import Prompt, Refusal, Step, StepDialog
from bot.dialog_times import echo, read_time
from bot.messages import Choice
from bot.registry import Registry
from bot.surveys import fileformat
from bot.usecases import surveys as survey_cases
from bot.usecases.surveys import SurveyDraft, SurveyRefused
from dialogs.audience import AudienceStep
from storage.people import Audience

PREFIX = "svc"
AUDIENCES = AudienceStep(PREFIX)
TEMPLATE, CLOSES, AUDIENCE, CONFIRM = "template", "closes", "audience", "confirm"


class SurveyCreate(StepDialog):
    name: ClassVar[str] = "survey_create"
    prefix: ClassVar[str | None] = PREFIX
    title_key: ClassVar[str] = "survey.dialog_title_create"

    def steps(self) -> Sequence[Step]:
        return (
            Step(TEMPLATE, self._ask_template, self.pick, self._template, "survey.help_template"),
            Step(CLOSES, self._ask_closes, self._parse_closes, self._closes, "survey.help_closes"),
            Step(AUDIENCE, self._ask_audience, self._parse_audience, self._audience,
                 "survey.help_audience"),
            Step(CONFIRM, self._preview, self.pick, self._confirm, "survey.help_confirm"),
        )  # fmt: skip

    def _draft(self, turn: Turn) -> SurveyDraft:
        """The chosen template as a draft, with what was answered since."""
        s = turn.state
        text = fileformat.template_text(s["template"], s["language"])
        draft = fileformat.to_draft(
            fileformat.load(text), now=turn.services.now, tz=turn.services.settings.timezone
        )
        closes = datetime.fromisoformat(s["closes"]) if s.get("closes") else draft.closes_at
        return replace(draft, closes_at=closes, audience=Audience.from_dict(s.get("audience")))

    # The template, in the member's language.
    async def _ask_template(self, turn: Turn) -> Prompt:
        choices = []
        for name in fileformat.template_names(turn.lang):
            title = fileformat.load(fileformat.template_text(name, turn.lang)).get("title", name)
            choices.append(Choice(str(title), f"{PREFIX}:tpl:{name}"))
        return Prompt(turn.t("survey.ask_template"), choices)

    async def _template(self, turn: Turn, choice: str) -> str:
        turn.set(template=choice.removeprefix(f"{PREFIX}:tpl:"), language=turn.lang)
        return CLOSES

    # When it closes.
    async def _ask_closes(self, turn: Turn) -> Prompt:
        return Prompt(turn.t("survey.ask_closes"), [self.back_choice(turn)])

    async def _parse_closes(self, turn: Turn) -> Any:
        closes = read_time(turn, PREFIX)
        if isinstance(closes, Refusal):
            return closes
        if closes <= turn.services.now:
            return Refusal("surveyrule.closes_past")
        return closes

    async def _closes(self, turn: Turn, closes: datetime) -> str:
        turn.set(closes=closes.isoformat())
        echo(turn, closes)
        return AUDIENCE

    # Everyone, a department or a location (dialogs/audience.py).
    async def _ask_audience(self, turn: Turn) -> Prompt:
        return Prompt(turn.t("survey.ask_audience"), await AUDIENCES.offer(turn))

    async def _parse_audience(self, turn: Turn) -> Any:
        segment = AUDIENCES.parse(turn)
        return segment if isinstance(segment, Refusal) else AUDIENCES.as_audience(segment)

    async def _audience(self, turn: Turn, audience: dict[str, str]) -> str:
        turn.set(audience=audience)
        return CONFIRM

    # The preview: open now, or discard.
    async def _preview(self, turn: Turn) -> Prompt:
        draft, services = self._draft(turn), turn.services
        lines = [turn.t("survey.preview"), "", draft.title]
        lines += [f"{i}. {q.text}" for i, q in enumerate(draft.questions, start=1)]
        lines.append("")
        lines.append(turn.t("survey.is_anonymous" if draft.anonymous else "survey.is_named"))
        if draft.closes_at is not None:
            lines.append(
                turn.t("survey.closes", when=services.format_time(draft.closes_at, turn.lang))
            )
        aud = draft.audience.to_dict()
        kind = next(iter(aud), None)
        lines.append(
            turn.t(f"survey.{kind}", name=aud[kind]) if kind else turn.t("survey.everyone")
        )
        return Prompt(
            "\n".join(lines),
            [
                Choice(turn.t("survey.open_now"), f"{PREFIX}:open"),
                Choice(turn.t("survey.discard"), f"{PREFIX}:discard"),
                self.back_choice(turn),
            ],
        )

    async def _confirm(self, turn: Turn, choice: str) -> str | None:
        if choice == f"{PREFIX}:discard":
            turn.end()
            turn.reply(turn.t("common.cancelled"))
            return None
        try:
            created = await survey_cases.create_survey(
                turn.services, self._draft(turn), actor_id=turn.person.id, via="chat"
            )
        except SurveyRefused as refused:
            # What was fine a step ago may not be now (the roster changed, the time passed).
            turn.reply(turn.refusal(refused))
            return {"audience": AUDIENCE, "closes": CLOSES}.get(refused.field, CONFIRM)
        turn.end()
        turn.reply(turn.t("survey.opened", id=created.survey.id, count=created.sent))
        return None


async def new_survey(turn: Turn, rest: str) -> None:
    await turn.begin("survey_create")


def register(registry: Registry) -> None:
    registry.dialog(SurveyCreate(), buttons=PREFIX)
    registry.command("commands.new_survey", new_survey, or_only=True, help_key="survey.help_new")
