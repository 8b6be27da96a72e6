"""Composing (or editing) a broadcast in chat, for OR members: text, optional photo,
audience, when, "gelezen" yes/no, then a preview to confirm.

A photo goes through the same pipeline as report photos (bot/photos.py): metadata dropped and,
since nobody in it agreed to publication, every face blurred; only the processed file is kept.
Every step takes a button or typed text; 'terug' / 'back' goes one step back, and from the
preview each part can be changed. Editing a scheduled broadcast reopens this dialog at the
preview; the change is saved only while the broadcast has not started.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import ClassVar

from bot.choices import fold
from bot.conversation import Turn
from bot.i18n import all_words
from bot.messages import Choice
from bot.registry import Registry
from bot.text import ascii_int
from bot.usecases import Refused, broadcasts
from bot.usecases.broadcasts import DEFAULT_REMIND_AFTER, MAX_TEXT, broadcast_message
from dialogs import steps
from dialogs.report_moderation import media_of
from dialogs.when import parse_when
from storage.broadcast_models import Broadcast
from storage.broadcasts import Broadcasts
from storage.people import Audience

log = logging.getLogger(__name__)

NAME = "broadcast_create"
P = "bcn"  # this dialog's buttons; not an action (only valid while composing)
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


class BroadcastCreate:
    name: ClassVar[str] = NAME

    async def start(self, turn: Turn) -> None:
        if turn.state.get("step") != CONFIRM:
            turn.set(step=TEXT, trail=[])
        await self.ask(turn)

    async def step(self, turn: Turn) -> None:
        if steps.wants_back(turn, P):
            note = turn.t("steps.first") if steps.back(turn) is None else None
            await self.ask(turn, note)
            return
        step = turn.state.get("step", TEXT)
        if turn.incoming.attachments and step not in (TEXT, IMAGE):
            await self.ask(turn, turn.t("bcreate.photo_wrong_step"))
            return
        await getattr(self, f"_{step}")(turn)

    def _next(self, turn: Turn, step: str, **values: object) -> None:
        """Move on; after the preview was reached, a changed part returns to it."""
        steps.advance(turn, CONFIRM if turn.state.get("review") else step, **values)

    async def ask(self, turn: Turn, note: str | None = None) -> None:
        """Ask the question of the current step, after `note` (what was wrong) if given."""
        step = turn.state.get("step", TEXT)
        back = steps.back_choice(turn, P)

        def q(key: str, **params: object) -> str:
            text = turn.t(key, **params)
            return f"{note}\n\n{text}" if note else text

        if step == TEXT:
            turn.reply(q("bcreate.ask_text", max=MAX_TEXT), [back])
        elif step == IMAGE:
            choices = [Choice(turn.t("bcreate.no_image"), f"{P}:noimage")]
            if turn.state.get("image"):
                choices.insert(0, Choice(turn.t("bcreate.keep_image"), f"{P}:keep"))
            turn.ask(q("bcreate.ask_image"), [*choices, back])
        elif step == AUDIENCE:
            await self._ask_audience(turn, q("bcreate.ask_audience"), back)
        elif step == WHEN:
            turn.ask(q("bcreate.ask_when"), [Choice(turn.t("bcreate.now"), f"{P}:now"), back])
        elif step == ACK:
            turn.ask(
                q("bcreate.ask_ack"),
                [
                    Choice(turn.t("bcreate.ack_yes"), f"{P}:ack"),
                    Choice(turn.t("bcreate.ack_no"), f"{P}:noack"),
                    back,
                ],
            )
        elif step == CHANGE:
            turn.ask(
                q("bcreate.ask_change"),
                [Choice(turn.t(f"bcreate.part_{part}"), f"{P}:part:{part}") for part in PARTS],
            )
        else:
            await self._preview(turn)

    async def _text(self, turn: Turn) -> None:
        text = turn.text
        photo = bool(turn.incoming.attachments) and await take_image(turn)
        if photo and not text:
            turn.reply(turn.t("bcreate.text_still_needed"))
            return
        try:
            text = broadcasts.check_text(text)
        except Refused as refused:
            await self.ask(turn, turn.t(refused.key, **refused.params))
            return
        # A photo sent with the text answers the photo question too.
        self._next(turn, AUDIENCE if photo else IMAGE, text=text)
        await self.ask(turn)

    async def _image(self, turn: Turn) -> None:
        if turn.incoming.attachments:
            if await take_image(turn):
                self._next(turn, AUDIENCE)
        elif turn.choice == f"{P}:noimage":
            self._next(turn, AUDIENCE, image=None)
        elif turn.choice == f"{P}:keep" and turn.state.get("image"):
            self._next(turn, AUDIENCE)
        else:
            await self.ask(turn, turn.t("bcreate.image_expected"))
            return
        await self.ask(turn)

    async def _ask_audience(self, turn: Turn, question: str, back: Choice) -> None:
        people, broadcasts = turn.services.people, Broadcasts(turn.services.session)
        segments = [["department", d] for d in await people.departments()]
        segments += [["location", loc] for loc in await people.locations()]
        segments += [["channel", c] for c in await broadcasts.channels_in_use()]
        turn.set(segments=segments)
        choices = [Choice(turn.t("bcreate.everyone"), f"{P}:aud:all")]
        for i, (kind, value) in enumerate(segments):
            choices.append(Choice(turn.t(f"bcreate.{kind}", name=value), f"{P}:aud:{i}"))
        turn.ask(question, [*choices, back])

    async def _audience(self, turn: Turn) -> None:
        segments = turn.state.get("segments", [])
        index = (turn.choice or "").removeprefix(f"{P}:aud:")
        if turn.choice == f"{P}:aud:all":
            self._next(turn, WHEN, audience={}, channel=None)
        elif (n := ascii_int(index, high=len(segments) - 1)) is not None:
            kind, value = segments[n]
            if kind == "channel":
                self._next(turn, WHEN, audience={}, channel=value)
            else:
                self._next(turn, WHEN, audience={kind: value}, channel=None)
        await self.ask(turn)

    async def _when(self, turn: Turn) -> None:
        services = turn.services
        if turn.choice == f"{P}:now" or fold(turn.text) in all_words("bcreate.words_now"):
            self._next(turn, ACK, when=None)
        else:
            when = parse_when(turn.text, now=services.now, timezone=services.settings.timezone)
            try:
                when = broadcasts.check_time(services, when) if when else None
            except Refused:
                when = None
            if when is None:
                await self.ask(turn, turn.t("bcreate.bad_when"))
                return
            self._next(turn, ACK, when=when.isoformat())
        await self.ask(turn)

    async def _ack(self, turn: Turn) -> None:
        if turn.choice in (f"{P}:ack", f"{P}:noack"):
            steps.advance(turn, CONFIRM, ack=turn.choice == f"{P}:ack", review=True)
        await self.ask(turn)

    async def _change(self, turn: Turn) -> None:
        part = (turn.choice or "").removeprefix(f"{P}:part:")
        if part in PARTS:
            steps.advance(turn, part)
        await self.ask(turn)

    async def _preview(self, turn: Turn) -> None:
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
            lines.append(turn.t("bcreate.summary_ack", hours=hours))
        if message.images:
            turn.reply(turn.t("bcreate.preview_image"), images=message.images)
        send = "bcreate.schedule" if when else "bcreate.send"
        turn.ask(
            "\n".join(lines),
            [
                Choice(turn.t(send), f"{P}:send"),
                Choice(turn.t("bcreate.change"), f"{P}:change"),
                Choice(turn.t("bcreate.discard"), f"{P}:discard"),
            ],
        )

    async def _confirm(self, turn: Turn) -> None:
        if turn.choice == f"{P}:discard":
            turn.end()
            turn.reply(turn.t("bcreate.discarded"))
        elif turn.choice == f"{P}:change":
            steps.advance(turn, CHANGE)
            await self.ask(turn)
        elif turn.choice == f"{P}:send":
            await save(turn, self)
        else:
            await self.ask(turn)


def _time(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def audience_label(turn: Turn) -> str:
    s = turn.state
    if s.get("channel"):
        return turn.t("bcreate.channel", name=s["channel"])
    audience = s.get("audience") or {}
    if audience:
        kind, value = next(iter(audience.items()))
        return turn.t(f"bcreate.{kind}", name=value)
    return turn.t("bcreate.everyone")


# A refusal at the moment of sending that the author can mend: back to that step.
MEND = {broadcasts.IN_THE_PAST: WHEN, broadcasts.NOBODY: AUDIENCE}


async def save(turn: Turn, dialog: BroadcastCreate) -> None:
    """Create the broadcast (or save the edit) through the use case, and say what happened:
    sending, scheduled, or why not (a time now past or an empty audience asks again)."""
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
        if refused.key in MEND:
            steps.advance(turn, MEND[refused.key])
            await dialog.ask(turn, turn.t(refused.key, **refused.params))
        else:
            turn.end()
            turn.reply(turn.t(refused.key, **refused.params))
        return
    turn.end()
    if saved.started:
        turn.reply(turn.t("bcreate.sending", id=saved.id, count=saved.queued))
    else:
        at = services.format_time(saved.scheduled_at, turn.lang)
        turn.reply(turn.t("bcreate.scheduled", id=saved.id, when=at))


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
