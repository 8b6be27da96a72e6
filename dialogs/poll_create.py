"""Guided poll creation for OR members: question, 2–10 options, single/multiple, anonymous or
named, closing time, audience, then a preview to confirm: open once, or open and repeat every
week or month. Each answer is checked by the use case's rule for it (bot/usecases/polls.py),
and the poll is made by its create_poll, as on the dashboard and in the CLI.

The steps are declared on the dialog base (bot/dialog_steps.py), which gives every step
'terug', 'stop', 'help'/'menu' and a re-ask that says why an answer was not taken."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from bot.choices import fold
from bot.conversation import Turn
from bot.dialog_steps import Prompt, Refusal, Step, StepDialog
from bot.dialog_times import echo, read_time
from bot.i18n import all_words
from bot.messages import Choice
from bot.registry import Registry
from bot.usecases import polls as poll_cases
from bot.usecases.poll_repeat import MONTHLY, WEEKLY, describe
from bot.usecases.polls import MAX_OPTIONS, MIN_OPTIONS, PollDraft, PollRefused
from dialogs.audience import AudienceStep
from storage.people import Audience

# The preview's buttons: open once, or open and repeat.
REPEAT_OF = {"pc:open": None, "pc:weekly": WEEKLY, "pc:monthly": MONTHLY}

QUESTION, OPTIONS, MODE, ANONYMITY, CLOSES, AUDIENCE, CONFIRM = (
    "question",
    "options",
    "mode",
    "anonymity",
    "closes",
    "audience",
    "confirm",
)
# The options step's value when the person typed 'klaar' / 'done'.
DONE = object()
AUDIENCES = AudienceStep("pc")


def _refusal(refused: PollRefused) -> Refusal:
    return Refusal(refused.key, refused.params)


class PollCreate(StepDialog):
    name: ClassVar[str] = "poll_create"
    prefix: ClassVar[str | None] = "pc"
    title_key: ClassVar[str] = "dialog.title.poll_create"

    def steps(self) -> Sequence[Step]:
        return (
            Step(
                QUESTION,
                self._ask_question,
                self._parse_question,
                self._question,
                "create.help_question",
            ),
            Step(
                OPTIONS, self._ask_options, self._parse_option, self._option, "create.help_options"
            ),
            Step(MODE, self._ask_mode, self.pick, self._mode, "create.help_mode"),
            Step(
                ANONYMITY,
                self._ask_anonymity,
                self.pick,
                self._anonymity,
                "create.help_anonymity",
            ),
            Step(CLOSES, self._ask_closes, self._parse_closes, self._closes, "create.help_closes"),
            Step(
                AUDIENCE,
                self._ask_audience,
                self._parse_audience,
                self._audience,
                "create.help_audience",
            ),
            Step(CONFIRM, self._preview, self.pick, self._confirm, "create.help_confirm"),
        )

    def initial_state(self, turn: Turn) -> dict[str, Any]:
        return {"options": []}

    # The question.
    async def _ask_question(self, turn: Turn) -> Prompt:
        return Prompt(turn.t("create.ask_question"))

    async def _parse_question(self, turn: Turn) -> Any:
        try:
            return poll_cases.check_question(turn.text)
        except PollRefused as refused:
            return _refusal(refused)

    async def _question(self, turn: Turn, text: str) -> str:
        turn.set(question=text)
        return OPTIONS

    # The options, one per message, then 'klaar'.
    async def _ask_options(self, turn: Turn) -> Prompt:
        text = turn.t("create.ask_options", min=MIN_OPTIONS, max=MAX_OPTIONS)
        options = list(turn.state.get("options", []))
        if options:
            text += "\n" + "\n".join(f"{i}. {o}" for i, o in enumerate(options, start=1))
        return Prompt(text)

    async def _parse_option(self, turn: Turn) -> Any:
        options: list[str] = list(turn.state.get("options", []))
        try:
            if fold(turn.text) in all_words("commands.done"):
                poll_cases.check_option_count(len(options))
                return DONE
            return poll_cases.check_option(turn.text, options)
        except PollRefused as refused:
            return _refusal(refused)

    async def _option(self, turn: Turn, text: Any) -> str:
        if text is DONE:
            return MODE
        options = [*turn.state.get("options", []), text]
        turn.set(options=options)
        if len(options) >= MAX_OPTIONS:
            return MODE
        turn.reply(turn.t("create.option_added", n=len(options), label=text))
        return OPTIONS

    # One answer or several.
    async def _ask_mode(self, turn: Turn) -> Prompt:
        return Prompt(
            turn.t("create.ask_mode"),
            [
                Choice(turn.t("create.single"), "pc:single"),
                Choice(turn.t("create.multi"), "pc:multi"),
            ],
        )

    async def _mode(self, turn: Turn, choice: str) -> str:
        turn.set(multiple=choice == "pc:multi")
        return ANONYMITY

    # Named or anonymous.
    async def _ask_anonymity(self, turn: Turn) -> Prompt:
        return Prompt(
            turn.t("create.ask_anonymous"),
            [
                Choice(turn.t("create.named"), "pc:named"),
                Choice(turn.t("create.anonymous"), "pc:anon"),
            ],
        )

    async def _anonymity(self, turn: Turn, choice: str) -> str:
        turn.set(anonymous=choice == "pc:anon")
        return CLOSES

    # The closing time, or none.
    async def _ask_closes(self, turn: Turn) -> Prompt:
        return Prompt(
            turn.t("create.ask_closes"), [Choice(turn.t("create.no_close"), "pc:noclose")]
        )

    async def _parse_closes(self, turn: Turn) -> Any:
        if turn.choice == "pc:noclose":
            return None
        closes = read_time(turn, self.prefix or "")
        if isinstance(closes, Refusal):
            return closes
        try:
            poll_cases.check_closes(closes, now=turn.services.now, opens_at=None)
        except PollRefused as refused:
            return _refusal(refused)
        return closes

    async def _closes(self, turn: Turn, closes: datetime | None) -> str:
        turn.set(closes=closes.isoformat() if closes else None)
        if closes is not None:
            echo(turn, closes)
        return AUDIENCE

    # Everyone, a department or a location (dialogs/audience.py).
    async def _ask_audience(self, turn: Turn) -> Prompt:
        return Prompt(turn.t("create.ask_audience"), await AUDIENCES.offer(turn))

    async def _parse_audience(self, turn: Turn) -> Any:
        segment = AUDIENCES.parse(turn)
        return segment if isinstance(segment, Refusal) else AUDIENCES.as_audience(segment)

    async def _audience(self, turn: Turn, audience: dict[str, str]) -> str:
        turn.set(audience=audience)
        return CONFIRM

    # The preview: open once, open and repeat, or discard.
    async def _preview(self, turn: Turn) -> Prompt:
        s = turn.state
        lines = [turn.t("create.preview"), "", s["question"]]
        lines += [f"{i}. {label}" for i, label in enumerate(s["options"], start=1)]
        lines.append("")
        lines.append(turn.t("create.multi") if s["multiple"] else turn.t("create.single"))
        lines.append(turn.t("create.anonymous") if s["anonymous"] else turn.t("create.named"))
        if s.get("closes"):
            when = datetime.fromisoformat(s["closes"])
            lines.append(turn.t("poll.closes", when=turn.services.format_time(when, turn.lang)))
        aud = s.get("audience") or {}
        lines.append(
            turn.t(f"create.{next(iter(aud))}", name=next(iter(aud.values())))
            if aud
            else turn.t("create.everyone")
        )
        return Prompt(
            "\n".join(lines),
            [
                Choice(turn.t("create.open_now"), "pc:open"),
                Choice(turn.t("create.discard"), "pc:discard"),
                Choice(turn.t("create.open_weekly"), "pc:weekly"),
                Choice(turn.t("create.open_monthly"), "pc:monthly"),
            ],
        )

    async def _confirm(self, turn: Turn, choice: str) -> str | None:
        if choice == "pc:discard":
            turn.end()
            turn.reply(turn.t("common.cancelled"))
            return None
        s, services = turn.state, turn.services
        draft = PollDraft(
            question=s["question"],
            options=s["options"],
            multiple=bool(s["multiple"]),
            anonymous=bool(s["anonymous"]),
            audience=Audience.from_dict(s.get("audience")),
            closes_at=datetime.fromisoformat(s["closes"]) if s.get("closes") else None,
            repeat=REPEAT_OF[choice],
        )
        try:
            created = await poll_cases.create_poll(services, draft, actor_id=turn.person.id)
        except PollRefused as refused:
            # What was fine a step ago may not be now (the roster changed, the time passed):
            # say why and ask that step again.
            turn.reply(turn.t(refused.key, **refused.params))
            return {"audience": AUDIENCE, "closes": CLOSES}.get(refused.field, CONFIRM)
        turn.end()
        text = turn.t("create.opened", id=created.poll.id, count=created.sent)
        if created.schedule is not None:
            text += "\n" + describe(created.schedule, turn.lang)
        turn.reply(text)
        return None


def register(registry: Registry) -> None:
    registry.dialog(PollCreate(), buttons="pc")
