"""Composing (or editing) a broadcast in chat, for OR members: text, optional photo,
audience, when, "gelezen" yes/no, then a preview to confirm.

A photo goes through the same pipeline as report photos (bot/photos.py): metadata dropped and,
since nobody in it agreed to publication, every face blurred; only the processed file is kept.
The steps are declared on the dialog base (bot/dialog_steps.py): 'terug', 'stop',
'help'/'menu' and a re-ask that says why work at every step, choices are read as typed
("ja", "productie", "versturen"), and a sending time is read by the rule-based time reader
(bot/dialog_times.py) and echoed in words. From the preview each part can be changed.
Editing a scheduled broadcast reopens this dialog at the preview; the change is saved only
while the broadcast has not started.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from bot.choices import fold
from bot.conversation import Turn
from bot.dialog_steps import STEP, Prompt, Refusal, Step, StepDialog, choose
from bot.dialog_times import echo, read_time
from bot.i18n import all_words
from bot.labels import channel_name
from bot.messages import Choice
from bot.registry import Registry
from bot.usecases import Refused, broadcasts
from bot.usecases.broadcasts import DEFAULT_REMIND_AFTER, MAX_TEXT, broadcast_message
from dialogs.audience import AudienceStep
from dialogs.report_moderation import media_of
from storage.broadcast_models import Broadcast
from storage.broadcasts import Broadcasts
from storage.people import Audience

log = logging.getLogger(__name__)

NAME = "broadcast_create"
P = "bcn"  # this dialog's buttons; not an action (only valid while composing)
AUDIENCES = AudienceStep(P, channels=True)
TEXT, IMAGE, AUDIENCE, WHEN, ACK, CONFIRM, CHANGE = (
    "text",
    "image",
    "audience",
    "when",
    "ack",
    "confirm",
    "change",
)
PARTS = (TEXT, IMAGE, AUDIENCE, WHEN, ACK)
# The photo step's value when a photo was sent.
PHOTO = object()


def draft_of(broadcast: Broadcast) -> dict[str, object]:
    """The dialog state that edits an existing broadcast, starting at the preview."""
    return {
        "editing": broadcast.id,
        "step": CONFIRM,
        "review": True,
        "trail": [],
        "text": broadcast.text,
        "image": broadcast.image_id,
        "audience": dict(broadcast.audience),
        "channel": broadcast.channel,
        "when": broadcast.scheduled_at.isoformat(),
        "ack": broadcast.acknowledge,
    }


class BroadcastCreate(StepDialog):
    name: ClassVar[str] = NAME
    prefix: ClassVar[str | None] = P
    title_key: ClassVar[str] = "dialog.title.broadcast_create"

    def steps(self) -> Sequence[Step]:
        return (
            Step(TEXT, self._ask_text, self._parse_text, self._text, "bcreate.help_text"),
            Step(IMAGE, self._ask_image, self._parse_image, self._image, "bcreate.help_image"),
            Step(
                AUDIENCE,
                self._ask_audience,
                self._parse_audience,
                self._audience,
                "bcreate.help_audience",
            ),
            Step(WHEN, self._ask_when, self._parse_when, self._when, "bcreate.help_when"),
            Step(ACK, self._ask_ack, self._pick_ack, self._ack, "bcreate.help_ack"),
            Step(CONFIRM, self._preview, self._pick_confirm, self._confirm, "bcreate.help_confirm"),
            Step(CHANGE, self._ask_change, self._pick_change, self._change, "bcreate.help_change"),
        )

    async def start(self, turn: Turn) -> None:
        if turn.state.get(STEP) == CONFIRM:  # editing a scheduled broadcast (draft_of)
            await self.ask(turn, CONFIRM)
        else:
            await super().start(turn)

    async def step(self, turn: Turn) -> None:
        current = str(turn.state.get(STEP, TEXT))
        if turn.incoming.attachments and current not in (TEXT, IMAGE):
            await self.ask(turn, current, before=turn.t("bcreate.photo_wrong_step"))
            return
        await super().step(turn)

    def _after(self, turn: Turn, step: str) -> str:
        """The next step; once the preview was reached, a changed part returns to it."""
        return CONFIRM if turn.state.get("review") else step

    # The text, and a photo sent with it.
    async def _ask_text(self, turn: Turn) -> Prompt:
        # Not typed: a "1" is the text, not the 'Terug' button.
        text = turn.t("bcreate.ask_text", max=MAX_TEXT)
        return Prompt(text, [self.back_choice(turn)], typed=False)

    async def _parse_text(self, turn: Turn) -> Any:
        if not turn.text and turn.incoming.attachments:
            return ""  # a photo alone: the text is still needed
        try:
            return broadcasts.check_text(turn.text)
        except Refused as refused:
            return Refusal.of(refused)

    async def _text(self, turn: Turn, text: str) -> str:
        photo = bool(turn.incoming.attachments) and await take_image(turn)
        if not text:
            if photo:
                turn.reply(turn.t("bcreate.text_still_needed"))
            else:
                await self.ask(turn, TEXT)
            return TEXT
        turn.set(text=text)
        # A photo sent with the text answers the photo question too.
        return self._after(turn, AUDIENCE if photo else IMAGE)

    # A photo, or none.
    def _image_choices(self, turn: Turn) -> list[Choice]:
        choices = [Choice(turn.t("bcreate.no_image"), f"{P}:noimage")]
        if turn.state.get("image"):
            choices.insert(0, Choice(turn.t("bcreate.keep_image"), f"{P}:keep"))
        return [*choices, self.back_choice(turn)]

    async def _ask_image(self, turn: Turn) -> Prompt:
        return Prompt(turn.t("bcreate.ask_image"), self._image_choices(turn))

    async def _parse_image(self, turn: Turn) -> Any:
        if turn.incoming.attachments:
            return PHOTO
        picked = choose(turn, self._image_choices(turn))
        return Refusal("bcreate.image_expected") if isinstance(picked, Refusal) else picked

    async def _image(self, turn: Turn, picked: object) -> str:
        if picked is PHOTO:
            if not await take_image(turn):
                await self.ask(turn, IMAGE)
                return IMAGE
        elif picked == f"{P}:noimage":
            turn.set(image=None)
        return self._after(turn, AUDIENCE)

    # Everyone, a department, a location or everyone on one channel (dialogs/audience.py).
    async def _ask_audience(self, turn: Turn) -> Prompt:
        offered = await AUDIENCES.offer(turn)
        return Prompt(turn.t("bcreate.ask_audience"), [*offered, self.back_choice(turn)])

    async def _parse_audience(self, turn: Turn) -> Any:
        return AUDIENCES.parse(turn)

    async def _audience(self, turn: Turn, segment: list[str] | None) -> str:
        if segment is None:
            turn.set(audience={}, channel=None)
        elif segment[0] == "channel":
            turn.set(audience={}, channel=segment[1])
        else:
            turn.set(audience={segment[0]: segment[1]}, channel=None)
        return self._after(turn, WHEN)

    # Now, or a time.
    async def _ask_when(self, turn: Turn) -> Prompt:
        now = Choice(turn.t("bcreate.now"), f"{P}:now")
        return Prompt(turn.t("bcreate.ask_when"), [now, self.back_choice(turn)])

    async def _parse_when(self, turn: Turn) -> Any:
        if turn.choice == f"{P}:now" or fold(turn.text) in all_words("bcreate.words_now"):
            return None
        when = read_time(turn, P)
        if isinstance(when, Refusal):
            return when
        try:
            return broadcasts.check_time(turn.services, when)
        except Refused as refused:
            return Refusal.of(refused)

    async def _when(self, turn: Turn, when: datetime | None) -> str:
        turn.set(when=when.isoformat() if when else None)
        if when is not None:
            echo(turn, when)
        return self._after(turn, ACK)

    # A 'Gelezen' button or not.
    def _ack_choices(self, turn: Turn) -> list[Choice]:
        return [
            Choice(turn.t("bcreate.ack_yes"), f"{P}:ack"),
            Choice(turn.t("bcreate.ack_no"), f"{P}:noack"),
            self.back_choice(turn),
        ]

    async def _ask_ack(self, turn: Turn) -> Prompt:
        return Prompt(turn.t("bcreate.ask_ack"), self._ack_choices(turn))

    async def _pick_ack(self, turn: Turn) -> Any:
        return choose(turn, self._ack_choices(turn))

    async def _ack(self, turn: Turn, picked: str) -> str:
        turn.set(ack=picked == f"{P}:ack", review=True)
        return CONFIRM

    # Which part to change.
    def _change_choices(self, turn: Turn) -> list[Choice]:
        return [Choice(turn.t(f"bcreate.part_{part}"), f"{P}:part:{part}") for part in PARTS]

    async def _ask_change(self, turn: Turn) -> Prompt:
        return Prompt(turn.t("bcreate.ask_change"), self._change_choices(turn))

    async def _pick_change(self, turn: Turn) -> Any:
        return choose(turn, self._change_choices(turn))

    async def _change(self, turn: Turn, picked: str) -> str:
        return picked.removeprefix(f"{P}:part:")

    # The preview: send (or schedule), change, or discard.
    def _confirm_choices(self, turn: Turn) -> list[Choice]:
        send = "bcreate.schedule" if turn.state.get("when") else "bcreate.send"
        return [
            Choice(turn.t(send), f"{P}:send"),
            Choice(turn.t("bcreate.change"), f"{P}:change"),
            Choice(turn.t("bcreate.discard"), f"{P}:discard"),
        ]

    async def _preview(self, turn: Turn) -> Prompt:
        s, services = turn.state, turn.services
        sample = Broadcast(
            id=s.get("editing") or 0,
            text=s.get("text", ""),
            image_id=s.get("image"),
            acknowledge=bool(s.get("ack")),
        )
        message = broadcast_message(sample, turn.lang)
        lines = [turn.t("bcreate.preview"), "", message.text, ""]
        lines.append(" ".join(f"[{c.label}]" for c in message.choices))
        lines.append("")
        audience = Audience.from_dict(s.get("audience"))
        count = await Broadcasts(services.session).estimate(audience, s.get("channel"))
        lines.append(turn.t("bcreate.summary_audience", who=audience_label(turn), count=count))
        when = s.get("when")
        lines.append(
            turn.t("bcreate.summary_at", when=services.format_time(_time(when), turn.lang))
            if when
            else turn.t("bcreate.summary_now")
        )
        if s.get("ack"):
            hours = round(DEFAULT_REMIND_AFTER.total_seconds() / 3600)
            lines.append(turn.t("bcreate.summary_ack", count=hours))
        if message.images:
            turn.reply(turn.t("bcreate.preview_image"), images=message.images)
        return Prompt("\n".join(lines), self._confirm_choices(turn))

    async def _pick_confirm(self, turn: Turn) -> Any:
        return choose(turn, self._confirm_choices(turn))

    async def _confirm(self, turn: Turn, picked: str) -> str | None:
        if picked == f"{P}:discard":
            turn.end()
            turn.reply(turn.t("bcreate.discarded"))
            return None
        if picked == f"{P}:change":
            return CHANGE
        return await save(turn)


def _time(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def audience_label(turn: Turn) -> str:
    s = turn.state
    if s.get("channel"):
        return turn.t("bcreate.channel", name=channel_name(turn.lang, s["channel"]))
    audience = s.get("audience") or {}
    if audience:
        kind, value = next(iter(audience.items()))
        return turn.t(f"bcreate.{kind}", name=value)
    return turn.t("bcreate.everyone")


# A refusal at the moment of sending that the author can mend: back to that step.
MEND = {broadcasts.IN_THE_PAST: WHEN, broadcasts.NOBODY: AUDIENCE}


async def save(turn: Turn) -> str | None:
    """Create the broadcast (or save the edit) through the use case, and say what happened:
    sending, scheduled, or why not (a time now past or an empty audience asks that step
    again: the step to ask is returned)."""
    s, services = turn.state, turn.services
    draft = broadcasts.Draft(
        text=str(s["text"]),
        image_id=s.get("image"),
        audience=Audience.from_dict(s.get("audience")),
        channel=s.get("channel"),
        at=_time(s["when"]) if s.get("when") else None,
        acknowledge=bool(s.get("ack")),
    )
    actor = broadcasts.Actor(turn.person.id, frozenset(turn.roles))
    editing = s.get("editing")
    try:
        if editing:
            saved = await broadcasts.edit(services, int(editing), draft, actor)
        else:
            saved = await broadcasts.create(services, draft, actor)
    except Refused as refused:
        if refused.key not in MEND:
            turn.end()
        turn.reply(turn.refusal(refused))
        return MEND.get(refused.key)
    turn.end()
    if saved.started:
        turn.reply(turn.t("bcreate.sending", id=saved.id, count=saved.queued))
    else:
        at = services.format_time(saved.scheduled_at, turn.lang)
        turn.reply(turn.t("bcreate.scheduled", id=saved.id, when=at))
    return None


async def take_image(turn: Turn) -> bool:
    """Fetch the first attached photo, scrub it and blur every face, keep only the result."""
    services = turn.services
    media = media_of(services)
    if media is None or media.fetch is None:
        turn.reply(turn.t("bcreate.image_unavailable"))
        return False
    ref = turn.incoming.attachments[0]
    if len(turn.incoming.attachments) > 1:
        turn.reply(turn.t("bcreate.one_image"))
    if ref.content_type and not ref.content_type.lower().startswith("image/"):
        turn.reply(turn.t("photo.not_an_image"))
        return False
    max_bytes = services.settings.media_max_bytes
    if ref.size is not None and ref.size > max_bytes:
        turn.reply(turn.t("photo.too_large", max_mb=max_bytes // (1024 * 1024)))
        return False
    try:
        data = await media.fetch(turn.incoming.channel, ref)
    except Exception:
        log.warning("media fetch failed", extra={"channel": turn.incoming.channel})
        turn.reply(turn.t("bcreate.image_fetch_failed"))
        return False
    try:
        image_id, faces = await broadcasts.keep_photo(services, data)
    except Refused as refused:
        turn.reply(turn.t(refused.key, **refused.params))
        return False
    turn.set(image=image_id)
    turn.reply(turn.t("bcreate.image_added", faces=faces))
    return True


def register(registry: Registry) -> None:
    registry.dialog(BroadcastCreate(), buttons=P)
