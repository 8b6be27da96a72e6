"""Reporting an unsafe situation: photo(s), what, where, consent, anonymity, confirmation.

Started by a command (`melding`, `onveilig`, `report`) or by sending a photo with no dialog
running. Every step takes a button or typed text, and 'terug'/'back' goes one step back.
Photos are fetched through Services (dialogs never download), checked and stored as
originals at once (moderators only); the processed copy — metadata gone, faces blurred
unless consent was given — is made at submission, when the consent is known.
"""

from __future__ import annotations

import asyncio
import logging
from typing import ClassVar

from bot import photos
from bot.choices import fold
from bot.conversation import Turn
from bot.i18n import all_words
from bot.messages import Choice
from bot.registry import Registry
from bot.text import ascii_int
from bot.understand.choices import polarity_of
from bot.understand.normalize import words
from bot.usecases import Refused, reports
from bot.usecases.reports import MAX_TEXT, MAX_WHERE, check_text
from dialogs import steps
from dialogs.report_input import MAX_PHOTOS, take_photos, typed_choice
from dialogs.report_moderation import media_of
from storage.media import ORIGINAL, PROCESSED
from storage.reports import ANONYMOUS, HIDDEN, NAMED, NewPhoto

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


def face_total(turn: Turn) -> int:
    return sum(len(p["faces"]) for p in turn.state.get("photos", []))


class UnsafeReport:
    name: ClassVar[str] = NAME

    async def start(self, turn: Turn) -> None:
        turn.set(step=PHOTOS, trail=[], photos=[], touched=turn.services.now.isoformat())
        if turn.incoming.attachments:
            await take_photos(turn)
        await self.ask(turn)

    async def step(self, turn: Turn) -> None:
        turn.set(touched=turn.services.now.isoformat())
        typed_steps = (PHOTOS, RECOGNISABLE, CONSENT, PRIVACY, CONFIRM)
        if turn.state.get("step") in typed_steps and turn.text and not turn.choice:
            turn.choice = await typed_choice(turn)
        if steps.wants_back(turn, P):
            if steps.back(turn) is None:
                turn.reply(turn.t("steps.first"))
            await self.ask(turn)
            return
        step = turn.state.get("step", PHOTOS)
        if turn.incoming.attachments and step != PHOTOS:
            turn.reply(turn.t("report.photo_wrong_step"))
            await self.ask(turn)
            return
        await getattr(self, f"_{step}")(turn)

    async def ask(self, turn: Turn) -> None:
        """Ask the question of the current step."""
        # Once fully anonymous, what the report says must not wait in the outbox readable
        # under the reporter's account.
        turn.sealed = turn.state.get("privacy") == ANONYMOUS
        step = turn.state.get("step", PHOTOS)
        back = steps.back_choice(turn, P)
        if step == PHOTOS:
            count = len(turn.state.get("photos", []))
            if count == 0:
                turn.ask(
                    turn.t("report.ask_photos", max=MAX_PHOTOS),
                    [Choice(turn.t("report.no_photo"), f"{P}:nophoto")],
                )
            else:
                turn.ask(
                    turn.t("report.photos_so_far", count=count, max=MAX_PHOTOS),
                    [Choice(turn.t("report.photos_done"), f"{P}:done")],
                )
        elif step == WHAT:
            turn.reply(turn.t("report.ask_what", max=MAX_TEXT), [back])
        elif step == WHERE:
            turn.reply(turn.t("report.ask_where"), [back])
        elif step == RECOGNISABLE:
            faces = face_total(turn)
            text = turn.t("report.ask_recognisable")
            if faces:
                text += "\n" + turn.t("report.faces_found", count=faces)
            turn.ask(text, [*self._yes_no(turn, unsure=True), back])
        elif step == CONSENT:
            choices = [Choice(turn.t("report.consent_all"), f"{P}:all")]
            choices.append(Choice(turn.t("report.consent_none"), f"{P}:none"))
            if face_total(turn) >= 2:
                choices.append(Choice(turn.t("report.consent_some"), f"{P}:some"))
            turn.ask(turn.t("report.ask_consent"), [*choices, back])
        elif step == PICK:
            await self._ask_pick(turn)
        elif step == PRIVACY:
            turn.ask(
                turn.t("report.ask_privacy"),
                [
                    Choice(turn.t("report.privacy_named"), f"{P}:{NAMED}"),
                    Choice(turn.t("report.privacy_hidden"), f"{P}:{HIDDEN}"),
                    Choice(turn.t("report.privacy_anonymous"), f"{P}:{ANONYMOUS}"),
                    back,
                ],
            )
        else:
            turn.ask(
                self._summary(turn),
                [
                    Choice(turn.t("report.send"), f"{P}:send"),
                    Choice(turn.t("report.discard"), f"{P}:discard"),
                    back,
                ],
            )

    def _yes_no(self, turn: Turn, *, unsure: bool = False) -> list[Choice]:
        choices = [
            Choice(turn.t("report.yes"), f"{P}:yes"),
            Choice(turn.t("report.no"), f"{P}:no"),
        ]
        if unsure:
            choices.append(Choice(turn.t("report.unsure"), f"{P}:unsure"))
        return choices

    async def _photos(self, turn: Turn) -> None:
        if turn.incoming.attachments:
            await take_photos(turn)
        elif turn.choice == f"{P}:nophoto" or (turn.choice == f"{P}:done" and self._count(turn)):
            steps.advance(turn, WHAT)
            if turn.state.get("what"):
                # The caption sent with a photo is the description: that step is skipped
                # ('terug' from where still reaches it to change it).
                steps.advance(turn, WHERE)
        else:
            turn.reply(turn.t("report.photos_expected"))
        await self.ask(turn)

    def _count(self, turn: Turn) -> int:
        return len(turn.state.get("photos", []))

    async def _what(self, turn: Turn) -> None:
        try:
            steps.advance(turn, WHERE, what=check_text(turn.text, MAX_TEXT))
        except Refused as refused:
            turn.reply(turn.refusal(refused))
        await self.ask(turn)

    async def _where(self, turn: Turn) -> None:
        try:
            text = check_text(turn.text, MAX_WHERE)
        except Refused as refused:
            turn.reply(turn.refusal(refused))
        else:
            await self._where_taken(turn, text)
        await self.ask(turn)

    async def _where_taken(self, turn: Turn, text: str) -> None:
        if self._count(turn):
            steps.advance(turn, RECOGNISABLE, where=text)
        else:
            steps.advance(turn, PRIVACY, where=text, recognisable=None, consent=None, keep=[])

    async def _recognisable(self, turn: Turn) -> None:
        answer = (turn.choice or "").removeprefix(f"{P}:")
        if answer not in ("yes", "no", "unsure"):
            turn.reply(turn.t("dialog.pick_one"))
        if answer == "no":
            # Faces the detector finds are blurred all the same: on any doubt, blur.
            steps.advance(turn, PRIVACY, recognisable="no", consent=None, keep=[])
        elif answer in ("yes", "unsure"):
            steps.advance(turn, CONSENT, recognisable=answer)
        await self.ask(turn)

    async def _consent(self, turn: Turn) -> None:
        answer = (turn.choice or "").removeprefix(f"{P}:")
        if answer == "all":
            steps.advance(turn, PRIVACY, consent="all", keep=list(range(1, face_total(turn) + 1)))
        elif answer == "none":
            steps.advance(turn, PRIVACY, consent="none", keep=[])
        elif answer == "some" and face_total(turn) >= 2:
            steps.advance(turn, PICK)
        elif polarity_of(words(turn.text)) in ("dont_know", "maybe"):
            # "weet ik niet": asked back with why it matters, not guessed.
            turn.reply(turn.t("report.consent_unsure"))
        else:
            turn.reply(turn.t("dialog.pick_one"))
        await self.ask(turn)

    async def _ask_pick(self, turn: Turn) -> None:
        media = media_of(turn.services)
        previews: list[str] = []
        if media is not None:
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
        turn.reply(
            turn.t("report.ask_pick", count=face_total(turn)),
            [
                Choice(turn.t("report.pick_none"), f"{P}:pick:none"),
                Choice(turn.t("report.pick_all"), f"{P}:pick:all"),
                steps.back_choice(turn, P),
            ],
            images=previews,
        )

    async def _pick(self, turn: Turn) -> None:
        total = face_total(turn)
        keep = parse_pick(turn.choice, turn.text, total)
        if keep is None:
            turn.reply(turn.t("report.pick_invalid", count=total))
            await self.ask(turn)
            return
        consent = "all" if len(keep) == total else ("none" if not keep else "some")
        steps.advance(turn, PRIVACY, consent=consent, keep=sorted(keep))
        await self.ask(turn)

    async def _privacy(self, turn: Turn) -> None:
        answer = (turn.choice or "").removeprefix(f"{P}:")
        if answer in (NAMED, HIDDEN, ANONYMOUS):
            steps.advance(turn, CONFIRM, privacy=answer)
        await self.ask(turn)

    def _summary(self, turn: Turn) -> str:
        s = turn.state
        lines = [turn.t("report.summary"), ""]
        lines.append(turn.t("report.summary_photos", count=len(s.get("photos", []))))
        lines.append(turn.t("report.summary_what", text=s.get("what", "")))
        lines.append(turn.t("report.summary_where", text=s.get("where", "")))
        if s.get("photos"):
            blurred = face_total(turn) - len(s.get("keep", []))
            lines.append(turn.t("report.summary_blur", count=blurred))
        lines.append(turn.t(f"report.privacy_{s.get('privacy', NAMED)}"))
        return "\n".join(lines)

    async def _confirm(self, turn: Turn) -> None:
        if turn.choice == f"{P}:discard":
            turn.end()
            turn.reply(turn.t("report.discarded_by_you"))
        elif turn.choice == f"{P}:send":
            await submit(turn)
        else:
            await self.ask(turn)


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


def _process(
    data: bytes, faces: list[photos.Face], keep: set[int], max_bytes: int
) -> photos.Scrubbed:
    image = photos.decode(data, max_bytes=max_bytes)
    return photos.finish(photos.Prepared(image, faces), keep)


async def submit(turn: Turn) -> None:
    s, services = turn.state, turn.services
    media = media_of(services)
    keep_numbers = set(s.get("keep", []))
    new_photos, first = [], 1
    for photo in s.get("photos", []):
        faces = [photos.Face(*f) for f in photo["faces"]]
        keep = {i for i in range(len(faces)) if first + i in keep_numbers}
        first += len(faces)
        if media is None:
            break
        data = media.store.read(photo["original"])
        done = await asyncio.to_thread(
            _process, data, faces, keep, services.settings.media_max_bytes
        )
        processed = media.store.put(done.jpeg, PROCESSED, now=services.now)
        new_photos.append(
            NewPhoto(
                processed, photo["original"], done.faces, done.blurred, done.width, done.height
            )
        )
    try:
        submitted = await reports.submit(
            services,
            reporter_id=turn.person.id,
            privacy=s.get("privacy", NAMED),
            description=s.get("what", ""),
            location=s.get("where", ""),
            recognisable=s.get("recognisable"),
            consent=s.get("consent"),
            photos=new_photos,
        )
    except Refused as refused:  # a draft from before a limit changed: start again
        turn.end()
        turn.reply(turn.refusal(refused))
        return
    turn.end()
    if submitted.code is not None:
        # No report number: this message waits in the outbox under the reporter's account.
        turn.sealed = True  # the code leads to the report: encrypted until it is sent
        turn.reply(turn.t("report.submitted_anonymous", code=submitted.code))
    else:
        turn.reply(turn.t("report.submitted", id=submitted.report.id))


async def start_report(turn: Turn, _rest: str) -> None:
    await turn.begin(NAME)


def register(registry: Registry) -> None:
    registry.dialog(UnsafeReport(), buttons=P)
    registry.command("commands.report", start_report, help_key="report.help_report")
