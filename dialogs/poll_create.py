"""Guided poll creation for OR members: question, 2–10 options, single/multiple, anonymous or
named, closing time, audience, then a preview to confirm: open once, or open and repeat every
week or month. Each answer is checked by the use case's rule for it (bot/usecases/polls.py),
and the poll is made by its create_poll, as on the dashboard and in the CLI."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from bot.choices import fold
from bot.conversation import Turn
from bot.i18n import all_words
from bot.messages import Choice
from bot.registry import Registry
from bot.text import ascii_int
from bot.usecases import polls as poll_cases
from bot.usecases.poll_repeat import MONTHLY, WEEKLY, describe
from bot.usecases.polls import MAX_OPTIONS, MIN_OPTIONS, PollDraft, PollRefused
from dialogs.when import parse_when
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


class PollCreate:
    name: ClassVar[str] = "poll_create"

    async def start(self, turn: Turn) -> None:
        turn.set(step=QUESTION, options=[])
        turn.reply(turn.t("create.ask_question"))

    async def step(self, turn: Turn) -> None:
        handler = {
            QUESTION: self._question,
            OPTIONS: self._options,
            MODE: self._mode,
            ANONYMITY: self._anonymity,
            CLOSES: self._closes,
            AUDIENCE: self._audience,
            CONFIRM: self._confirm,
        }[turn.state.get("step", QUESTION)]
        await handler(turn)

    async def _question(self, turn: Turn) -> None:
        try:
            text = poll_cases.check_question(turn.text)
        except PollRefused as refused:
            turn.reply(turn.t(refused.key, **refused.params))
            return
        turn.set(step=OPTIONS, question=text)
        turn.reply(turn.t("create.ask_options", min=MIN_OPTIONS, max=MAX_OPTIONS))

    async def _options(self, turn: Turn) -> None:
        options: list[str] = list(turn.state.get("options", []))
        try:
            if fold(turn.text) in all_words("commands.done"):
                poll_cases.check_option_count(len(options))
                await self._ask_mode(turn)
                return
            text = poll_cases.check_option(turn.text, options)
        except PollRefused as refused:
            turn.reply(turn.t(refused.key, **refused.params))
            return
        options.append(text)
        turn.set(options=options)
        if len(options) >= MAX_OPTIONS:
            await self._ask_mode(turn)
        else:
            turn.reply(turn.t("create.option_added", n=len(options), label=text))

    async def _ask_mode(self, turn: Turn) -> None:
        turn.set(step=MODE)
        turn.ask(
            turn.t("create.ask_mode"),
            [
                Choice(turn.t("create.single"), "pc:single"),
                Choice(turn.t("create.multi"), "pc:multi"),
            ],
        )

    async def _mode(self, turn: Turn) -> None:
        if turn.choice not in ("pc:single", "pc:multi"):
            await self._ask_mode(turn)
            return
        turn.set(step=ANONYMITY, multiple=turn.choice == "pc:multi")
        turn.ask(
            turn.t("create.ask_anonymous"),
            [
                Choice(turn.t("create.named"), "pc:named"),
                Choice(turn.t("create.anonymous"), "pc:anon"),
            ],
        )

    async def _anonymity(self, turn: Turn) -> None:
        if turn.choice not in ("pc:named", "pc:anon"):
            turn.ask(
                turn.t("create.ask_anonymous"),
                [
                    Choice(turn.t("create.named"), "pc:named"),
                    Choice(turn.t("create.anonymous"), "pc:anon"),
                ],
            )
            return
        turn.set(step=CLOSES, anonymous=turn.choice == "pc:anon")
        turn.ask(turn.t("create.ask_closes"), [Choice(turn.t("create.no_close"), "pc:noclose")])

    async def _closes(self, turn: Turn) -> None:
        services = turn.services
        closes: datetime | None = None
        no_close = [Choice(turn.t("create.no_close"), "pc:noclose")]
        if turn.choice != "pc:noclose":
            closes = parse_when(turn.text, now=services.now, timezone=services.settings.timezone)
            if closes is None:
                turn.ask(turn.t("create.bad_closes"), no_close)
                return
            try:
                poll_cases.check_closes(closes, now=services.now, opens_at=None)
            except PollRefused as refused:
                turn.ask(turn.t(refused.key, **refused.params), no_close)
                return
        turn.set(step=AUDIENCE, closes=closes.isoformat() if closes else None)
        await self._ask_audience(turn)

    async def _ask_audience(self, turn: Turn) -> None:
        people = turn.services.people
        segments = [["department", d] for d in await people.departments()]
        segments += [["location", loc] for loc in await people.locations()]
        turn.set(segments=segments)
        choices = [Choice(turn.t("create.everyone"), "pc:aud:all")]
        for i, (kind, value) in enumerate(segments):
            choices.append(Choice(turn.t(f"create.{kind}", name=value), f"pc:aud:{i}"))
        turn.ask(turn.t("create.ask_audience"), choices)

    async def _audience(self, turn: Turn) -> None:
        segments = turn.state.get("segments", [])
        choice = turn.choice or ""
        if choice == "pc:aud:all":
            audience: dict[str, str] = {}
        elif (
            choice.startswith("pc:aud:")
            and (n := ascii_int(choice[7:], high=len(segments) - 1)) is not None
        ):
            kind, value = segments[n]
            audience = {kind: value}
        else:
            await self._ask_audience(turn)
            return
        turn.set(step=CONFIRM, audience=audience)
        await self._preview(turn)

    async def _preview(self, turn: Turn) -> None:
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
        turn.ask(
            "\n".join(lines),
            [
                Choice(turn.t("create.open_now"), "pc:open"),
                Choice(turn.t("create.discard"), "pc:discard"),
                Choice(turn.t("create.open_weekly"), "pc:weekly"),
                Choice(turn.t("create.open_monthly"), "pc:monthly"),
            ],
        )

    async def _confirm(self, turn: Turn) -> None:
        if turn.choice == "pc:discard":
            turn.end()
            turn.reply(turn.t("common.cancelled"))
            return
        if turn.choice not in REPEAT_OF:
            await self._preview(turn)
            return
        s, services = turn.state, turn.services
        draft = PollDraft(
            question=s["question"],
            options=s["options"],
            multiple=bool(s["multiple"]),
            anonymous=bool(s["anonymous"]),
            audience=Audience.from_dict(s.get("audience")),
            closes_at=datetime.fromisoformat(s["closes"]) if s.get("closes") else None,
            repeat=REPEAT_OF[turn.choice],
        )
        try:
            created = await poll_cases.create_poll(services, draft, actor_id=turn.person.id)
        except PollRefused as refused:
            # What was fine a step ago may not be now (the roster changed, the time passed):
            # say why and ask that step again.
            turn.reply(turn.t(refused.key, **refused.params))
            if refused.field == "audience":
                await self._ask_audience(turn)
                turn.set(step=AUDIENCE)
            elif refused.field == "closes":
                turn.set(step=CLOSES)
                turn.ask(
                    turn.t("create.ask_closes"), [Choice(turn.t("create.no_close"), "pc:noclose")]
                )
            return
        turn.end()
        text = turn.t("create.opened", id=created.poll.id, count=created.sent)
        if created.schedule is not None:
            text += "\n" + describe(created.schedule, turn.lang)
        turn.reply(text)


def register(registry: Registry) -> None:
    registry.dialog(PollCreate(), buttons="pc")
