"""Reporting an unsafe situation: photo(s), what, where, consent, anonymity, confirmation.

Started by a command (`melding`, `onveilig`, `report`) or by sending a photo with no dialog
running. Every step takes a button or typed text; 'terug', 'stop' and 'help' work at every
step (bot/dialog_steps.py). A caption sent with the photo is the description.
Photos are fetched through Services (dialogs never download), checked and stored as
originals at once (moderators only); the processed copy — metadata gone, faces blurred
unless consent was given — is made at submission, when the consent is known.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, ClassVar

from bot import photos
from bot.choices import fold
from bot.conversation import Turn
from bot.dialog_steps import STEP, TRAIL, Prompt, Refusal, Step, StepDialog
from bot.i18n import all_words
from bot.messages import Choice
from bot.registry import Registry
from bot.text import ascii_int
from bot.understand.choices import polarity_of
from bot.understand.normalize import words
from bot.usecases import Refused
from bot.usecases.reports import MAX_TEXT, MAX_WHERE, check_text
from dialogs.report_input import MAX_PHOTOS, submit, take_photos, typed_choice
from dialogs.report_moderation import media_of
from storage.media import ORIGINAL
from storage.reports import ANONYMOUS, HIDDEN, NAMED

log = logging.getLogger(__name__)

NAME = "unsafe_report"
P = "ur"  # payload prefix of this dialog's buttons (not an action: only valid in the dialog)
PHOTOS, WHAT, WHERE, RECOGNISABLE, CONSENT, PICK, PRIVACY, CONFIRM = (
    "photos",
    "what",
    "where",
    "recognisable",
    "consent",
    "pick",
    "privacy",
    "confirm",
)


# Steps whose buttons may be answered in words ("ja hoor", "de derde"); not the free-text
# steps, nor the face numbers.
TYPED_STEPS = (PHOTOS, RECOGNISABLE, CONSENT, PRIVACY, CONFIRM)
DOUBT = ("dont_know", "maybe")
PICK_ONE = Refusal("dialog.pick_one")


def face_total(turn: Turn) -> int:
    return sum(len(p["faces"]) for p in turn.state.get("photos", []))


class UnsafeReport(StepDialog):
    """On the dialog base (bot/dialog_steps.py): 'terug', 'stop' and 'help' work at every
    step, and a re-ask says why. Photos arrive only at the first step; a photo sent later is
    kept out and the step asked again."""

    name: ClassVar[str] = NAME
    prefix: ClassVar[str | None] = P

    def steps(self) -> Sequence[Step]:
        return tuple(
            Step(name, ask, parse, accept, f"report.help_{name}")
            for name, (ask, parse, accept) in (
                (PHOTOS, (self._ask_photos, self._parse_photos, self._photos)),
                (WHAT, (self._ask_what, self._parse_what, self._what)),
                (WHERE, (self._ask_where, self._parse_where, self._where)),
                (RECOGNISABLE, (self._ask_recognisable, self._parse_choice, self._recognisable)),
                (CONSENT, (self._ask_consent, self._parse_consent, self._consent)),
                (PICK, (self._ask_pick, self._parse_pick, self._pick)),
                (PRIVACY, (self._ask_privacy, self._parse_choice, self._privacy)),
                (CONFIRM, (self._ask_confirm, self._parse_choice, self._confirm)),
            )
        )

    def initial_state(self, turn: Turn) -> dict[str, Any]:
        return {"photos": [], "touched": turn.services.now.isoformat()}

    async def start(self, turn: Turn) -> None:
        turn.set(**{**self.initial_state(turn), STEP: PHOTOS, TRAIL: []})
        if turn.incoming.attachments:
            await take_photos(turn)
        await self.ask(turn, PHOTOS)

    async def step(self, turn: Turn) -> None:
        turn.set(touched=turn.services.now.isoformat())
        current = turn.state.get(STEP, PHOTOS)
        if turn.incoming.attachments and current != PHOTOS:
            await self.ask(turn, current, before=turn.t("report.photo_wrong_step"))
            return
        if current in TYPED_STEPS and turn.text and not turn.choice:
            read = await typed_choice(turn)
            if isinstance(read, list):  # two buttons fit: asked, never guessed
                options = turn.t("pollanswer.or_join", head=", ".join(read[:-1]), last=read[-1])
                await self.ask(
                    turn, current, before=turn.t("pollanswer.did_you_mean", options=options)
                )
                return
            turn.choice = read
        await super().step(turn)

    async def ask(
        self, turn: Turn, name: str, before: str | None = None, extra: Sequence[Choice] = ()
    ) -> None:
        # Once fully anonymous, what the report says must not wait in the outbox readable
        # under the reporter's account.
        turn.sealed = turn.state.get("privacy") == ANONYMOUS
        if name != PICK:
            await super().ask(turn, name, before, extra)
            return
        # The numbered faces go with the question (a plain reply: Prompt(typed=False)).
        prompt = await self._ask_pick(turn)
        text = f"{before}\n\n{prompt.text}" if before else prompt.text
        turn.reply(text, [*extra, *prompt.choices], images=await self._previews(turn))

    def _answer(self, turn: Turn) -> str:
        return (turn.choice or "").removeprefix(f"{P}:")

    async def _parse_choice(self, turn: Turn) -> Any:
        answer = self._answer(turn)
        prompt = await self._by_name()[str(turn.state.get(STEP))].prompt(turn)
        if f"{P}:{answer}" in {c.payload for c in prompt.choices}:
            return answer
        return PICK_ONE

    # Photos.
    async def _ask_photos(self, turn: Turn) -> Prompt:
        count = len(turn.state.get("photos", []))
        if count == 0:
            return Prompt(
                turn.t("report.ask_photos", max=MAX_PHOTOS),
                [Choice(turn.t("report.no_photo"), f"{P}:nophoto")],
            )
        return Prompt(
            turn.t("report.photos_so_far", count=count, max=MAX_PHOTOS),
            [Choice(turn.t("report.photos_done"), f"{P}:done")],
        )

    async def _parse_photos(self, turn: Turn) -> Any:
        if turn.incoming.attachments:
            return PHOTOS
        answer = self._answer(turn)
        if answer == "nophoto" or (answer == "done" and turn.state.get("photos")):
            return answer
        return Refusal("report.photos_expected")

    async def _photos(self, turn: Turn, value: str) -> str:
        if value == PHOTOS:
            await take_photos(turn)
            await self.ask(turn, PHOTOS)
            return PHOTOS
        if turn.state.get("what"):
            # The caption sent with a photo is the description: that step is skipped
            # ('terug' from where still reaches it to change it).
            self.move(turn, WHAT)
            return WHERE
        return WHAT

    # What and where.
    async def _ask_what(self, turn: Turn) -> Prompt:
        return Prompt(turn.t("report.ask_what", max=MAX_TEXT), [self.back_choice(turn)])

    async def _parse_what(self, turn: Turn) -> Any:
        return _checked(turn.text, MAX_TEXT)

    async def _what(self, turn: Turn, text: str) -> str:
        turn.set(what=text)
        return WHERE

    async def _ask_where(self, turn: Turn) -> Prompt:
        return Prompt(turn.t("report.ask_where"), [self.back_choice(turn)])

    async def _parse_where(self, turn: Turn) -> Any:
        return _checked(turn.text, MAX_WHERE)

    async def _where(self, turn: Turn, text: str) -> str:
        if turn.state.get("photos"):
            turn.set(where=text)
            return RECOGNISABLE
        turn.set(where=text, recognisable=None, consent=None, keep=[])
        return PRIVACY

    # Faces and consent.
    async def _ask_recognisable(self, turn: Turn) -> Prompt:
        faces = face_total(turn)
        text = turn.t("report.ask_recognisable")
        if faces:
            text += "\n" + turn.t("report.faces_found", count=faces)
        choices = [
            Choice(turn.t("report.yes"), f"{P}:yes"),
            Choice(turn.t("report.no"), f"{P}:no"),
            Choice(turn.t("report.unsure"), f"{P}:unsure"),
            self.back_choice(turn),
        ]
        return Prompt(text, choices)

    async def _recognisable(self, turn: Turn, answer: str) -> str:
        if answer == "no":
            # Faces the detector finds are blurred all the same: on any doubt, blur.
            turn.set(recognisable="no", consent=None, keep=[])
            return PRIVACY
        turn.set(recognisable=answer)
        return CONSENT

    async def _ask_consent(self, turn: Turn) -> Prompt:
        choices = [
            Choice(turn.t("report.consent_all"), f"{P}:all"),
            Choice(turn.t("report.consent_none"), f"{P}:none"),
        ]
        if face_total(turn) >= 2:
            choices.append(Choice(turn.t("report.consent_some"), f"{P}:some"))
        return Prompt(turn.t("report.ask_consent"), [*choices, self.back_choice(turn)])

    async def _parse_consent(self, turn: Turn) -> Any:
        parsed = await self._parse_choice(turn)
        if isinstance(parsed, Refusal) and polarity_of(words(turn.text)) in DOUBT:
            # "weet ik niet": asked back with why it matters, not guessed.
            return Refusal("report.consent_unsure")
        return parsed

    async def _consent(self, turn: Turn, answer: str) -> str:
        if answer == "all":
            turn.set(consent="all", keep=list(range(1, face_total(turn) + 1)))
            return PRIVACY
        if answer == "none":
            turn.set(consent="none", keep=[])
            return PRIVACY
        return PICK

    async def _ask_pick(self, turn: Turn) -> Prompt:
        # Face numbers are typed ("1 3"): a typed "2" is never the second button.
        return Prompt(
            turn.t("report.ask_pick", count=face_total(turn)),
            [
                Choice(turn.t("report.pick_none"), f"{P}:pick:none"),
                Choice(turn.t("report.pick_all"), f"{P}:pick:all"),
                self.back_choice(turn),
            ],
            typed=False,
        )

    async def _previews(self, turn: Turn) -> list[str]:
        media = media_of(turn.services)
        previews: list[str] = []
        if media is None:
            return previews
        first = 1
        for photo in turn.state.get("photos", []):
            faces = [photos.Face(*f) for f in photo["faces"]]
            if faces:
                data = media.store.read(photo["original"])
                image = await asyncio.to_thread(
                    _preview, data, faces, first, turn.services.settings.media_max_bytes
                )
                previews.append(media.store.put(image, ORIGINAL, now=turn.services.now))
            first += len(faces)
        return previews

    async def _parse_pick(self, turn: Turn) -> Any:
        total = face_total(turn)
        keep = parse_pick(turn.choice, turn.text, total)
        if keep is None:
            return Refusal("report.pick_invalid", {"count": total})
        return keep

    async def _pick(self, turn: Turn, keep: set[int]) -> str:
        total = face_total(turn)
        consent = "all" if len(keep) == total else ("none" if not keep else "some")
        turn.set(consent=consent, keep=sorted(keep))
        return PRIVACY

    # Privacy and confirmation.
    async def _ask_privacy(self, turn: Turn) -> Prompt:
        return Prompt(
            turn.t("report.ask_privacy"),
            [
                Choice(turn.t("report.privacy_named"), f"{P}:{NAMED}"),
                Choice(turn.t("report.privacy_hidden"), f"{P}:{HIDDEN}"),
                Choice(turn.t("report.privacy_anonymous"), f"{P}:{ANONYMOUS}"),
                self.back_choice(turn),
            ],
        )

    async def _privacy(self, turn: Turn, answer: str) -> str:
        turn.set(privacy=answer)
        return CONFIRM

    async def _ask_confirm(self, turn: Turn) -> Prompt:
        s = turn.state
        lines = [turn.t("report.summary"), ""]
        lines.append(turn.t("report.summary_photos", count=len(s.get("photos", []))))
        lines.append(turn.t("report.summary_what", text=s.get("what", "")))
        lines.append(turn.t("report.summary_where", text=s.get("where", "")))
        if s.get("photos"):
            blurred = face_total(turn) - len(s.get("keep", []))
            lines.append(turn.t("report.summary_blur", count=blurred))
        lines.append(turn.t(f"report.privacy_{s.get('privacy', NAMED)}"))
        choices = [
            Choice(turn.t("report.send"), f"{P}:send"),
            Choice(turn.t("report.discard"), f"{P}:discard"),
            self.back_choice(turn),
        ]
        return Prompt("\n".join(lines), choices)

    async def _confirm(self, turn: Turn, answer: str) -> None:
        if answer == "discard":
            turn.end()
            turn.reply(turn.t("report.discarded_by_you"))
            return
        await submit(turn)


def _checked(text: str, most: int) -> Any:
    try:
        return check_text(text, most)
    except Refused as refused:
        return Refusal(refused.key, refused.params)


def parse_pick(choice: str | None, text: str, total: int) -> set[int] | None:
    """Face numbers that may stay visible: '1 3', 'geen'/'none', 'allemaal'/'all'."""
    typed = fold(text)
    if choice == f"{P}:pick:none" or typed in all_words("report.words_none"):
        return set()
    if choice == f"{P}:pick:all" or typed in all_words("report.words_all"):
        return set(range(1, total + 1))
    # As typed, not folded (NFKD makes "²" a "2"): ASCII digits only.
    parts = text.strip().replace(",", " ").replace(";", " ").split()
    numbers = [ascii_int(p, low=1, high=total) for p in parts]
    if parts and all(n is not None for n in numbers):
        return {n for n in numbers if n is not None}
    return None


def _preview(data: bytes, faces: list[photos.Face], first: int, max_bytes: int) -> bytes:
    image = photos.decode(data, max_bytes=max_bytes)
    return photos.encode_jpeg(photos.numbered_preview(image, faces, first))


async def start_report(turn: Turn, _rest: str) -> None:
    await turn.begin(NAME)


def register(registry: Registry) -> None:
    registry.dialog(UnsafeReport(), buttons=P)
    registry.command("commands.report", start_report, help_key="report.help_report")
