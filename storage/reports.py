"""Unsafe-situation reports, their photos and notes.

A fully anonymous report has no reporter and no time of day; the reporter holds a secret
code, and only its SHA-256 is stored (the code has ~60 random bits, so the hash cannot be
guessed back). Status changes are conditional updates, so two moderators pressing buttons at
once change a report once.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Person, Report, ReportNote, ReportPhoto, Role, random_id

REPORT_NUMBERS = range(1_000_000, 10_000_000)
NEW, PUBLISHED, FORWARDED, RESOLVED, REJECTED = (
    "new",
    "published",
    "forwarded",
    "resolved",
    "rejected",
)
STATUSES = (NEW, PUBLISHED, FORWARDED, RESOLVED, REJECTED)
FINAL = frozenset({RESOLVED, REJECTED})
NAMED, HIDDEN, ANONYMOUS = "named", "hidden", "anonymous"
# Audit actions a reporter performs on their own report. For a report that is not named they
# are logged without an actor (the link to a "hidden" reporter is kept on the report only to
# tell them the outcome); the dashboard shows a name for them only where the report itself
# does: a named reporter, to moderators (bot/web/queries.py audit_page).
REPORTER_ACTIONS = frozenset({"report.submitted"})

# No 0/O, 1/I/L, U: codes are read aloud and typed on phones.
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_LENGTH = 12


def new_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, _CODE_LENGTH, 4))


def normalise_code(text: str) -> str | None:
    """The code as typed ("k7q2 m9xd-3fht") in canonical form; None when it cannot be one."""
    raw = "".join(ch for ch in text.upper() if ch.isalnum())
    if len(raw) != _CODE_LENGTH or any(ch not in _CODE_ALPHABET for ch in raw):
        return None
    return raw


def code_hash(code: str) -> str:
    canonical = normalise_code(code) or ""
    return hashlib.sha256(f"achterban-report:{canonical}".encode()).hexdigest()


def allowed(old: str, new: str) -> bool:
    """Moderator transitions: anything not final may move to another status, never to new."""
    return old not in FINAL and new != old and new in STATUSES and new != NEW


@dataclass(frozen=True, slots=True)
class NewPhoto:
    processed_id: str
    original_id: str | None
    faces: int
    blurred: int
    width: int
    height: int


class Reports:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _free_number(self) -> int:
        """A random report number of seven digits, short enough to read out and type, that no
        report has yet (a sequential one would tell the order of arrival)."""
        while True:
            number = REPORT_NUMBERS.start + secrets.randbelow(len(REPORT_NUMBERS))
            if await self.session.get(Report, number) is None:
                return number

    async def create(
        self,
        *,
        reporter_id: int | None,
        privacy: str,
        description: str,
        location: str,
        recognisable: str | None,
        consent: str | None,
        photos: Sequence[NewPhoto],
        now: datetime,
        code: str | None = None,
    ) -> Report:
        anonymous = privacy == ANONYMOUS
        report = Report(
            # Random ids for every report, its photos and notes: sequential ones tell the order
            # of arrival, to be matched to the outbox; and on SQLite a row without an id gets
            # the largest so far plus one, right after the latest anonymous report.
            id=await self._free_number(),
            reporter_id=None if anonymous else reporter_id,
            privacy=privacy,
            code_hash=code_hash(code) if code else None,
            description=description,
            location=location,
            recognisable=recognisable,
            consent=consent,
            status=NEW,
            submitted_on=now.date(),
            submitted_at=None if anonymous else now,
            moderators_notified=False,
        )
        self.session.add(report)
        await self.session.flush()
        for position, photo in enumerate(photos, start=1):
            self.session.add(
                ReportPhoto(
                    id=random_id(),
                    report_id=report.id,
                    position=position,
                    processed_id=photo.processed_id,
                    original_id=photo.original_id,
                    faces=photo.faces,
                    blurred=photo.blurred,
                    width=photo.width,
                    height=photo.height,
                )
            )
        await self.session.flush()
        return report

    async def get(self, report_id: int) -> Report | None:
        return await self.session.get(Report, report_id, populate_existing=True)

    async def by_code(self, code: str) -> Report | None:
        if normalise_code(code) is None:
            return None
        stmt = select(Report).where(Report.code_hash == code_hash(code))
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def photos(self, report_id: int) -> list[ReportPhoto]:
        stmt = (
            select(ReportPhoto)
            .where(ReportPhoto.report_id == report_id)
            .order_by(ReportPhoto.position)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def notes(self, report_id: int) -> list[ReportNote]:
        # By day (ids are random, so within a day the order is not the order of writing).
        stmt = (
            select(ReportNote)
            .where(ReportNote.report_id == report_id)
            .order_by(ReportNote.added_on, ReportNote.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def add_note(
        self, report_id: int, text: str, *, today: date, from_reporter: bool, author_id: int | None
    ) -> None:
        self.session.add(
            ReportNote(
                id=random_id(),
                report_id=report_id,
                text=text,
                from_reporter=from_reporter,
                author_id=author_id,
                added_on=today,
            )
        )
        await self.session.flush()

    async def transition(
        self, report_id: int, old: str, new: str, *, reason: str | None, now: datetime
    ) -> bool:
        """old → new; False when the report was changed meanwhile (another moderator)."""
        stmt = (
            update(Report)
            .where(Report.id == report_id, Report.status == old)
            .values(status=new, status_reason=reason, status_changed_at=now)
            .returning(Report.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def mark_notified(self, report_id: int) -> bool:
        stmt = (
            update(Report)
            .where(Report.id == report_id, Report.moderators_notified.is_(False))
            .values(moderators_notified=True)
            .returning(Report.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def not_notified(self) -> list[int]:
        stmt = (
            select(Report.id)
            .where(Report.moderators_notified.is_(False))
            .order_by(Report.submitted_on, Report.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def recent(self, *, status: str | None = None, limit: int = 50) -> list[Report]:
        stmt = select(Report).order_by(Report.submitted_on.desc(), Report.id.desc()).limit(limit)
        if status:
            stmt = stmt.where(Report.status == status)
        return list((await self.session.execute(stmt)).scalars())

    async def of_reporter(self, person_id: int, limit: int = 10) -> list[Report]:
        stmt = (
            select(Report)
            .where(Report.reporter_id == person_id)
            .order_by(Report.submitted_on.desc(), Report.id.desc())
            .limit(limit)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def expire_originals(self, before: date) -> list[str]:
        """Forget the originals of reports submitted before `before`; returns their ids.

        Conditional on original_id still being set, so concurrent purges agree."""
        stmt = (
            select(ReportPhoto.id, ReportPhoto.original_id)
            .join(Report, Report.id == ReportPhoto.report_id)
            .where(Report.submitted_on < before, ReportPhoto.original_id.is_not(None))
        )
        rows = list(await self.session.execute(stmt))
        if not rows:
            return []
        await self.session.execute(
            update(ReportPhoto)
            .where(ReportPhoto.id.in_([r[0] for r in rows]), ReportPhoto.original_id.is_not(None))
            .values(original_id=None)
            .execution_options(synchronize_session=False)
        )
        return [r[1] for r in rows if r[1] is not None]

    async def referenced(self, column: str) -> set[str]:
        """Media ids still used by some report: 'processed_id' or 'original_id'."""
        col = getattr(ReportPhoto, column)
        stmt = select(col).where(col.is_not(None)).distinct()
        return {v for v in (await self.session.execute(stmt)).scalars() if v}

    async def counts(self) -> dict[str, int]:
        stmt = select(Report.status, func.count()).group_by(Report.status)
        return {status: n for status, n in await self.session.execute(stmt)}


async def people_with_role(session: AsyncSession, roles: Iterable[str]) -> list[int]:
    """Ids of the (not forgotten) people holding any of `roles`."""
    stmt = (
        select(Role.person_id)
        .join(Person, Person.id == Role.person_id)
        .where(Role.role.in_(list(roles)), Person.forgotten_at.is_(None))
        .distinct()
        .order_by(Role.person_id)
    )
    return list((await session.execute(stmt)).scalars())
