"""Unsafe-situation reports: the commands that change them — submit, set a status (publish,
forward, resolve, reject with a reason), add a note (the reporter's, through their code or
their own named report, or a moderator's) — with their rules in one place. The chat dialogs
(dialogs/unsafe_report.py, dialogs/report_moderation.py), the dashboard
(bot/web/report_views.py) and the CLI (bot/cli/report.py) only ask and reply; a broken rule
is a `Refused` with the catalogue key the chat would say.

"Anonymous" is a promise here: a fully anonymous report has no reporter, so nobody is told of
its status except through `status CODE`; a name-hidden reporter is told, but never named in
the audit log (status changes are audited under the moderator who made them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.conversation import Services
from bot.i18n import t
from bot.messages import Choice, Outgoing, Purpose
from bot.text import ascii_int
from bot.usecases import Refused
from storage.models import Person, Report
from storage.reports import (
    ANONYMOUS,
    HIDDEN,
    NAMED,
    PUBLISHED,
    REJECTED,
    NewPhoto,
    Reports,
    allowed,
    new_code,
    people_with_role,
)

MAX_TEXT = 2000
MAX_WHERE = 500
MAX_REASON = 1000
PRIVACIES = (NAMED, HIDDEN, ANONYMOUS)
MODERATORS = frozenset({"moderator", "admin"})
# The refusal after which the person may simply type the text again.
RETYPE = "report.text_length"


def check_text(text: str, limit: int) -> str:
    """The text as stored: stripped, 1..`limit` characters (what, where, reason, note)."""
    text = text.strip()
    if not text or len(text) > limit:
        raise Refused(RETYPE, max=limit, length=len(text))
    return text


def status_label(lang: str, status: str) -> str:
    return t(lang, f"report.status_{status}")


def report_text(lang: str, report: Report, reporter: Person | None) -> str:
    """The moderators' notice: what, where, who (named reports only) and the status."""
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


async def moderator_ids(services: Services) -> list[int]:
    """Who hears of reports: the moderators, or the admins while there are none."""
    moderators = await people_with_role(services.session, ["moderator"])
    return moderators or await people_with_role(services.session, ["admin"])


async def notify_moderators(services: Services, report: Report) -> int:
    """The notice with the processed photos and the actions; once per report."""
    reports = Reports(services.session)
    if not await reports.mark_notified(report.id):
        return 0
    processed = tuple(p.processed_id for p in await reports.photos(report.id))
    reporter = None
    if report.reporter_id is not None and report.privacy == NAMED:
        reporter = await services.people.get(report.reporter_id)

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

    return await services.notify_many(await moderator_ids(services), build)


@dataclass(frozen=True, slots=True)
class Submitted:
    """A stored report; `code` is the secret code of a fully anonymous one (else None)."""

    report: Report
    code: str | None


async def submit(
    services: Services,
    *,
    reporter_id: int,
    privacy: str,
    description: str,
    location: str,
    recognisable: str | None,
    consent: str | None,
    photos: Sequence[NewPhoto],
) -> Submitted:
    """Store a report (its photos already processed) and tell the moderators.

    A fully anonymous report gets a secret code, no audit entry and no immediate notice
    (both would carry the precise time; the periodic job tells the moderators later). A
    name-hidden report keeps its reporter only to tell them the outcome: not in the log.

    Refused: what or where empty or too long, an unknown privacy choice.
    """
    description = check_text(description, MAX_TEXT)
    location = check_text(location, MAX_WHERE)
    if privacy not in PRIVACIES:
        raise Refused("common.button_invalid")
    code = new_code() if privacy == ANONYMOUS else None
    report = await Reports(services.session).create(
        reporter_id=reporter_id,
        privacy=privacy,
        description=description,
        location=location,
        recognisable=recognisable,
        consent=consent,
        photos=photos,
        now=services.now,
        code=code,
    )
    if code is None:
        actor = reporter_id if privacy == NAMED else None
        await services.audit("report.submitted", actor_id=actor, subject=f"report:{report.id}")
        await notify_moderators(services, report)
    return Submitted(report, code)


async def may_moderate(services: Services, person_id: int) -> bool:
    return bool(await services.people.roles(person_id) & MODERATORS)


async def _moderator(services: Services, moderator_id: int | None) -> None:
    """None is the operator at the server (the CLI without --by); anyone else must moderate."""
    if moderator_id is not None and not await may_moderate(services, moderator_id):
        raise Refused("report.moderators_only")


async def _get(services: Services, report_id: int) -> Report:
    report = await Reports(services.session).get(report_id)
    if report is None:
        raise Refused("report.not_found", id=report_id)
    return report


def check_status(report: Report, new: str) -> None:
    """Refused ("report.not_changed", with the report's raw `status`) when the report may
    not go to `new`: final already, the same status, or back to new."""
    if not allowed(report.status, new):
        raise Refused("report.not_changed", id=report.id, status=report.status)


async def for_moderator(services: Services, report_id: int, *, moderator_id: int | None) -> Report:
    """Report `report_id` as a moderator (None: the operator at the server) may handle it.
    Refused: not a moderator, no such report."""
    await _moderator(services, moderator_id)
    return await _get(services, report_id)


async def may_reject(services: Services, report_id: int, *, moderator_id: int) -> Report:
    """The report a moderator may reject (before asking them why). Refused as `set_status`."""
    report = await for_moderator(services, report_id, moderator_id=moderator_id)
    check_status(report, REJECTED)
    return report


@dataclass(frozen=True, slots=True)
class Changed:
    report: Report
    old: str


async def set_status(
    services: Services,
    report_id: int,
    new: str,
    *,
    moderator_id: int | None,
    reason: str | None = None,
) -> Changed:
    """Move a report to `new`; audited under the moderator; the reporter is told (named and
    name-hidden reports; a fully anonymous one has no reporter to tell); on publishing the
    OR members get it with the processed photos.

    Refused: not a moderator; no such report; a reason longer than MAX_REASON, or none for
    a rejection; a transition not allowed ("report.not_changed" with the raw `status`, also
    when another moderator changed it first).
    """
    report = await for_moderator(services, report_id, moderator_id=moderator_id)
    reason = (reason or "").strip() or None
    if new == REJECTED or reason is not None:
        reason = check_text(reason or "", MAX_REASON)
    check_status(report, new)
    old = report.status
    reports = Reports(services.session)
    if not await reports.transition(report.id, old, new, reason=reason, now=services.now):
        current = await _get(services, report_id)  # changed meanwhile: say to what
        raise Refused("report.not_changed", id=report.id, status=current.status)
    report.status, report.status_reason = new, reason
    await services.audit(
        "report.status", actor_id=moderator_id, subject=f"report:{report.id}", to=new
    )
    if report.reporter_id is not None and report.privacy != ANONYMOUS:
        await services.notify_many(
            [report.reporter_id], lambda p: _status_notice(p.language, report.id, new, reason)
        )
    if new == PUBLISHED:
        await _publish(services, report)
    return Changed(report, old)


def _status_notice(lang: str, report_id: int, new: str, reason: str | None) -> Outgoing:
    text = t(lang, "report.status_changed", id=report_id, status=status_label(lang, new))
    if reason:
        text += "\n" + t(lang, "report.status_reason", reason=reason)
    return Outgoing(text=text, purpose=Purpose.NOTICE)


async def _publish(services: Services, report: Report) -> None:
    processed = tuple(p.processed_id for p in await Reports(services.session).photos(report.id))
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


async def of_reporter(services: Services, person_id: int, wanted: str) -> Report | None:
    """The report `status …` names: by secret code (anyone holding it), or by number when
    it is this person's own report (named or name-hidden)."""
    reports = Reports(services.session)
    wanted = wanted.strip().lstrip("#")
    if (number := ascii_int(wanted)) is not None:
        found = await reports.get(number)
        return found if found is not None and found.reporter_id == person_id else None
    return await reports.by_code(wanted) if wanted else None


async def add_reporter_note(services: Services, report_id: int, text: str) -> Report:
    """The reporter adds information (after `status CODE` or `status NUMBER`, which found the
    report); the moderators are told. No audit entry and no author: for a report that is not
    named, either would link the reporter to it.

    Refused: text empty or too long; the report is gone.
    """
    text = check_text(text, MAX_TEXT)
    report = await _get(services, report_id)
    await Reports(services.session).add_note(
        report.id, text, today=services.now.date(), from_reporter=True, author_id=None
    )
    await services.notify_many(
        await moderator_ids(services),
        lambda p: Outgoing(
            text=t(p.language, "report.info_notice", id=report.id, text=text),
            purpose=Purpose.NOTICE,
        ),
    )
    return report


async def add_moderator_note(
    services: Services, report_id: int, text: str, *, moderator_id: int
) -> None:
    """A moderator's note on a report, audited under them.

    Refused: not a moderator; text empty or too long; no such report.
    """
    await _moderator(services, moderator_id)
    text = check_text(text, MAX_TEXT)
    report = await _get(services, report_id)
    await Reports(services.session).add_note(
        report.id, text, today=services.now.date(), from_reporter=False, author_id=moderator_id
    )
    await services.audit("report.note", actor_id=moderator_id, subject=f"report:{report.id}")
