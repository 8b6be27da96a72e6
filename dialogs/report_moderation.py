"""What happens to a report after it is sent: moderators' notice and actions, status changes
told to the reporter, and `status CODE` for fully anonymous reporters.

Nothing is published without a moderator: 'publish' is a moderator's button, and only then
do OR members get the processed photo. Originals go to moderators only, on request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bot.conversation import Services, Turn
from bot.i18n import t
from bot.messages import Choice, Outgoing, Purpose
from bot.registry import Registry
from bot.text import ascii_int
from dialogs import steps
from storage.media import MediaFetcher, MediaStore
from storage.models import Person, Report
from storage.reports import (
    FORWARDED,
    NAMED,
    PUBLISHED,
    REJECTED,
    RESOLVED,
    Reports,
    allowed,
    people_with_role,
)

MAX_TEXT = 2000
MAX_REASON = 1000
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


def status_label(lang: str, status: str) -> str:
    return t(lang, f"report.status_{status}")


def report_text(lang: str, report: Report, reporter: Person | None) -> str:
    lines = [t(lang, "report.notice_header", id=report.id), ""]
    lines.append(t(lang, "report.summary_what", text=report.description))
    lines.append(t(lang, "report.summary_where", text=report.location))
    if report.privacy == NAMED and reporter is not None:
        who = f"{reporter.name} ({reporter.department or '-'})"
        lines.append(t(lang, "report.notice_reporter", name=who))
    else:
        lines.append(t(lang, f"report.notice_{report.privacy}"))
    lines.append(t(lang, "report.notice_status", status=status_label(lang, report.status)))
    return "\n".join(lines)


async def notify_moderators(services: Services, report: Report) -> int:
    """The notice with the processed photos and the actions; once per report."""
    reports = Reports(services.session)
    if not await reports.mark_notified(report.id):
        return 0
    processed = tuple(p.processed_id for p in await reports.photos(report.id))
    reporter = None
    if report.reporter_id is not None and report.privacy == NAMED:
        reporter = await services.people.get(report.reporter_id)
    moderators = await people_with_role(services.session, ["moderator"])
    moderators = moderators or await people_with_role(services.session, ["admin"])

    def build(person: Person) -> Outgoing:
        lang = person.language
        verbs = ["publish", "forward", "resolve", "reject"] + (["original"] if processed else [])
        return Outgoing(
            text=report_text(lang, report, reporter),
            images=processed,
            choices=tuple(
                Choice(t(lang, f"report.action_{v}"), f"rm:{report.id}:{v}") for v in verbs
            ),
            purpose=Purpose.NOTICE,
        )

    return await services.notify_many(moderators, build)


async def change_status(
    services: Services,
    report: Report,
    new: str,
    *,
    actor_id: int | None,
    reason: str | None = None,
) -> bool:
    """Move a report to `new`, tell the reporter (if linked) and, on publishing, the OR."""
    if not allowed(report.status, new):
        return False
    reports = Reports(services.session)
    if not await reports.transition(report.id, report.status, new, reason=reason, now=services.now):
        return False
    report.status, report.status_reason = new, reason
    await services.audit("report.status", actor_id=actor_id, subject=f"report:{report.id}", to=new)
    if report.reporter_id is not None:

        def tell(person: Person) -> Outgoing:
            lang = person.language
            text = t(lang, "report.status_changed", id=report.id, status=status_label(lang, new))
            if reason:
                text += "\n" + t(lang, "report.status_reason", reason=reason)
            return Outgoing(text=text, purpose=Purpose.NOTICE)

        await services.notify_many([report.reporter_id], tell)
    if new == PUBLISHED:
        processed = tuple(p.processed_id for p in await reports.photos(report.id))
        members = await people_with_role(services.session, ["or_member"])

        def publish(person: Person) -> Outgoing:
            lang = person.language
            text = "\n".join(
                [
                    t(lang, "report.published_header", id=report.id),
                    t(lang, "report.summary_what", text=report.description),
                    t(lang, "report.summary_where", text=report.location),
                ]
            )
            return Outgoing(text=text, images=processed, purpose=Purpose.NOTICE)

        await services.notify_many(members, publish)
    return True


def is_moderator(turn: Turn) -> bool:
    return bool(turn.roles & {"moderator", "admin"})


async def on_moderator_button(turn: Turn, payload: str) -> None:
    bits = payload.split(":")
    report_id = ascii_int(bits[1]) if len(bits) == 3 else None
    if report_id is None:
        turn.reply(turn.t("common.button_invalid"))
        return
    if not is_moderator(turn):
        turn.reply(turn.t("report.moderators_only"))
        return
    report = await Reports(turn.services.session).get(report_id)
    if report is None:
        turn.reply(turn.t("report.not_found", id=bits[1]))
        return
    verb = bits[2]
    if verb == "original":
        await send_originals(turn, report)
    elif verb == "reject":
        if allowed(report.status, REJECTED):
            await turn.begin(REJECT, report=report.id)
        else:
            turn.reply(
                turn.t(
                    "report.not_changed",
                    id=report.id,
                    status=status_label(turn.lang, report.status),
                )
            )
    elif verb in VERBS:
        await moderate(turn, report, VERBS[verb], None)
    else:
        turn.reply(turn.t("common.button_invalid"))


async def moderate(turn: Turn, report: Report, new: str, reason: str | None) -> None:
    if await change_status(turn.services, report, new, actor_id=turn.person.id, reason=reason):
        turn.reply(turn.t("report.changed", id=report.id, status=status_label(turn.lang, new)))
    else:
        status = status_label(turn.lang, report.status)
        turn.reply(turn.t("report.not_changed", id=report.id, status=status))


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
        return steps.back_choice(turn, "rr")

    async def step(self, turn: Turn) -> None:
        report_id = int(turn.state["report"])
        if steps.wants_back(turn, "rr"):
            turn.end()
            turn.reply(turn.t("report.reject_dropped", id=report_id))
            return
        text = turn.text
        if not text or len(text) > MAX_REASON:
            turn.reply(turn.t("report.text_length", max=MAX_REASON, length=len(text)))
            return
        turn.end()
        report = await Reports(turn.services.session).get(report_id)
        if report is None:
            turn.reply(turn.t("report.not_found", id=report_id))
            return
        await moderate(turn, report, REJECTED, text)


async def report_status(turn: Turn, rest: str) -> None:
    """`status CODE` (anonymous reporters, any channel) or `status 12` (own named report)."""
    reports = Reports(turn.services.session)
    wanted = rest.strip().lstrip("#")
    report = None
    if (number := ascii_int(wanted)) is not None:
        found = await reports.get(number)
        if found is not None and found.reporter_id == turn.person.id:
            report = found
    elif wanted:
        report = await reports.by_code(wanted)
    if report is None:
        turn.reply(turn.t("report.status_unknown" if wanted else "report.status_how"))
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
                turn.reply(turn.t("report.ask_info", max=MAX_TEXT), [steps.back_choice(turn, "rf")])
            elif turn.choice == "rf:done":
                turn.end()
                turn.reply(turn.t("report.followup_bye"))
            else:
                ask_followup(turn, turn.t("report.followup_menu"))
            return
        if steps.wants_back(turn, "rf"):
            turn.set(step="menu")
            ask_followup(turn, turn.t("report.followup_menu"))
            return
        text = turn.text
        if not text or len(text) > MAX_TEXT:
            turn.reply(turn.t("report.text_length", max=MAX_TEXT, length=len(text)))
            return
        services = turn.services
        reports = Reports(services.session)
        report = await reports.get(int(turn.state["report"]))
        turn.end()
        if report is None:
            turn.reply(turn.t("report.status_unknown"))
            return
        await reports.add_note(
            report.id, text, today=services.now.date(), from_reporter=True, author_id=None
        )
        turn.reply(turn.t("report.info_added", id=report.id))
        moderators = await people_with_role(services.session, ["moderator"])
        await services.notify_many(
            moderators,
            lambda p: Outgoing(
                text=t(p.language, "report.info_notice", id=report.id, text=text),
                purpose=Purpose.NOTICE,
            ),
        )


def register(registry: Registry) -> None:
    registry.action("rm", on_moderator_button)
    registry.dialog(RejectReason(), buttons="rr")
    registry.command("commands.report_status", report_status, help_key="report.help_status")
    registry.dialog(ReportFollowUp(), buttons="rf")
