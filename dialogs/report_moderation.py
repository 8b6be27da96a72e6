"""What happens to a report after it is sent: moderators' notice and actions, status changes
told to the reporter, and `status CODE` for fully anonymous reporters.

Nothing is published without a moderator: 'publish' is a moderator's button, and only then
do OR members get the processed photo. Originals go to moderators only, on request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bot.conversation import Services, Turn
from bot.dialog_steps import back_button, wants_back
from bot.messages import Choice
from bot.registry import Registry
from bot.text import ascii_int
from bot.usecases import Refused
from bot.usecases.reports import (
    MAX_TEXT,
    RETYPE,
    add_reporter_note,
    for_moderator,
    may_reject,
    of_reporter,
    set_status,
    status_label,
)
from storage.media import MediaFetcher, MediaStore
from storage.models import Report
from storage.reports import FORWARDED, PUBLISHED, REJECTED, RESOLVED, Reports

REJECT, FOLLOWUP = "report_reject", "report_followup"
VERBS = {"publish": PUBLISHED, "forward": FORWARDED, "resolve": RESOLVED}


@dataclass(frozen=True, slots=True)
class Media:
    store: MediaStore
    fetch: MediaFetcher | None


def media_of(services: Services) -> Media | None:
    """The media store and fetcher the engine put on Services (None: photos switched off)."""
    if services.media_store is None:
        return None
    return Media(services.media_store, services.fetch_media)


def refusal(turn: Turn, refused: Refused) -> str:
    """A refusal of the reports use case; a status in it is said in the person's words."""
    if "status" in refused.params:
        status = status_label(turn.lang, str(refused.params["status"]))
        params = {**refused.params, "status": status}
        return turn.t(refused.key, **params)
    return turn.refusal(refused)


async def on_moderator_button(turn: Turn, payload: str) -> None:
    bits = payload.split(":")
    report_id = ascii_int(bits[1]) if len(bits) == 3 else None
    verb = bits[2] if report_id is not None else ""
    if report_id is None or verb not in (*VERBS, "reject", "original"):
        turn.reply(turn.t("common.button_invalid"))
        return
    services = turn.services
    try:
        if verb == "original":
            report = await for_moderator(services, report_id, moderator_id=turn.person.id)
            await send_originals(turn, report)
        elif verb == "reject":
            await may_reject(services, report_id, moderator_id=turn.person.id)
            await turn.begin(REJECT, report=report_id)
        else:
            await moderate(turn, report_id, VERBS[verb], None)
    except Refused as refused:
        turn.reply(refusal(turn, refused))


async def moderate(turn: Turn, report_id: int, new: str, reason: str | None) -> None:
    """Set the status (Refused is the caller's to say) and tell the moderator."""
    await set_status(turn.services, report_id, new, moderator_id=turn.person.id, reason=reason)
    turn.reply(turn.t("report.changed", id=report_id, status=status_label(turn.lang, new)))


async def send_originals(turn: Turn, report: Report) -> None:
    media = media_of(turn.services)
    originals = [
        p.original_id
        for p in await Reports(turn.services.session).photos(report.id)
        if p.original_id is not None and media is not None and media.store.exists(p.original_id)
    ]
    if not originals:
        turn.reply(turn.t("report.originals_gone", id=report.id))
        return
    days = turn.services.settings.media_retention_days
    turn.reply(turn.t("report.originals", id=report.id, days=days), images=originals)
    await turn.services.audit(
        "report.originals_viewed", actor_id=turn.person.id, subject=f"report:{report.id}"
    )


class RejectReason:
    """A moderator types why a report is rejected; the reporter sees the reason."""

    name: ClassVar[str] = REJECT

    async def start(self, turn: Turn) -> None:
        turn.reply(turn.t("report.ask_reason", id=turn.state["report"]), [self._back(turn)])

    def _back(self, turn: Turn) -> Choice:
        return back_button(turn, "rr")

    async def step(self, turn: Turn) -> None:
        report_id = int(turn.state["report"])
        if wants_back(turn, "rr"):
            turn.end()
            turn.reply(turn.t("report.reject_dropped", id=report_id))
            return
        try:
            await moderate(turn, report_id, REJECTED, turn.text)
        except Refused as refused:
            if refused.key != RETYPE:
                turn.end()
            turn.reply(refusal(turn, refused))
            return
        turn.end()


async def report_status(turn: Turn, rest: str) -> None:
    """`status CODE` (anonymous reporters, any channel) or `status 12` (own named report)."""
    report = await of_reporter(turn.services, turn.person.id, rest)
    if report is None:
        turn.reply(
            turn.t("report.status_unknown" if rest.strip().lstrip("#") else "report.status_how")
        )
        return
    lines = [
        turn.t("report.status_line", id=report.id, status=status_label(turn.lang, report.status))
    ]
    if report.status_reason:
        lines.append(turn.t("report.status_reason", reason=report.status_reason))
    # The state keeps the report id only while this short dialog runs (a day at most).
    await turn.begin(FOLLOWUP, report=report.id, touched=turn.services.now.isoformat())
    ask_followup(turn, "\n".join(lines))


def ask_followup(turn: Turn, text: str) -> None:
    turn.ask(
        text,
        [
            Choice(turn.t("report.add_info"), "rf:add"),
            Choice(turn.t("report.followup_done"), "rf:done"),
        ],
    )


class ReportFollowUp:
    """After `status …`: add information to the report, or leave."""

    name: ClassVar[str] = FOLLOWUP

    async def start(self, turn: Turn) -> None:
        turn.set(step="menu")

    async def step(self, turn: Turn) -> None:
        turn.set(touched=turn.services.now.isoformat())
        if turn.state.get("step") == "menu":
            if turn.choice == "rf:add":
                turn.set(step="text")
                turn.reply(turn.t("report.ask_info", max=MAX_TEXT), [back_button(turn, "rf")])
            elif turn.choice == "rf:done":
                turn.end()
                turn.reply(turn.t("report.followup_bye"))
            else:
                ask_followup(turn, turn.t("report.followup_menu"))
            return
        if wants_back(turn, "rf"):
            turn.set(step="menu")
            ask_followup(turn, turn.t("report.followup_menu"))
            return
        try:
            report = await add_reporter_note(turn.services, int(turn.state["report"]), turn.text)
        except Refused as refused:
            if refused.key == RETYPE:
                turn.reply(turn.refusal(refused))
            else:
                turn.end()
                turn.reply(turn.t("report.status_unknown"))
            return
        turn.end()
        turn.reply(turn.t("report.info_added", id=report.id))


def register(registry: Registry) -> None:
    registry.action("rm", on_moderator_button)
    registry.dialog(RejectReason(), buttons="rr")
    registry.command("commands.report_status", report_status, help_key="report.help_status")
    registry.dialog(ReportFollowUp(), buttons="rf")
