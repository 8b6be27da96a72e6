"""Roster CSV import: validate every line first, then upsert by e-mail in one transaction."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import LANGUAGES
from storage.audit import audit
from storage.models import Person
from storage.people import ROLES, People

HEADER = ("name", "email", "phone", "department", "location", "language", "roles")
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")  # ASCII digits only (\d takes any script's)


@dataclass(frozen=True, slots=True)
class RosterRow:
    line: int
    name: str
    email: str
    phone: str | None
    department: str | None
    location: str | None
    language: str
    roles: frozenset[str]


@dataclass
class RosterCheck:
    rows: list[RosterRow] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)


class RosterInvalid(Exception):
    """Raised inside the import transaction so that nothing of an invalid file is kept."""

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        super().__init__(f"{len(errors)} invalid line(s)")
        self.errors = errors


@dataclass(frozen=True, slots=True)
class ImportReport:
    created: int
    updated: int
    skipped: int
    errors: list[tuple[int, str]]


def normalise_phone(raw: str) -> str:
    return re.sub(r"[\s\-().]", "", raw)


def check_roster(text: str) -> RosterCheck:
    """Parse and validate; errors carry the line number as a spreadsheet shows it."""
    result = RosterCheck()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = tuple(h.strip().lower() for h in (reader.fieldnames or ()))
    if set(header) != set(HEADER):
        result.errors.append((1, _header_problem(header)))
        return result
    seen = _Seen()
    for raw in reader:
        line = reader.line_num
        if None in raw:
            result.errors.append((line, "more cells than columns"))
            continue
        values = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
        row, problems = _row(line, values, seen)
        if problems:
            result.errors.append((line, "; ".join(problems)))
        else:
            assert row is not None
            seen.add(row)
            result.rows.append(row)
    return result


def _header_problem(header: tuple[str, ...]) -> str:
    missing = [h for h in HEADER if h not in header]
    extra = [h for h in header if h not in HEADER]
    detail = []
    if missing:
        detail.append("missing " + ", ".join(missing))
    if extra:
        detail.append("unknown " + ", ".join(extra))
    return f"header must be {','.join(HEADER)} ({'; '.join(detail)})"


@dataclass
class _Seen:
    """E-mail addresses and phones of the lines read so far: a second one is an error."""

    emails: dict[str, int] = field(default_factory=dict)
    phones: dict[str, int] = field(default_factory=dict)

    def add(self, row: RosterRow) -> None:
        self.emails[row.email] = row.line
        if row.phone:
            self.phones[row.phone] = row.line


def _row(line: int, values: dict[str, str], seen: _Seen) -> tuple[RosterRow | None, list[str]]:
    """One line as a roster row, or what is wrong with it."""
    problems = []
    name, email = values["name"], values["email"].lower()
    if not name or len(name) > 200:
        problems.append("name is required (at most 200 characters)")
    if not _EMAIL.match(email) or len(email) > 320:
        problems.append(f"invalid email {values['email']!r}")
    elif email in seen.emails:
        problems.append(f"email {email} also on line {seen.emails[email]}")
    phone = normalise_phone(values["phone"]) or None
    if phone and not _E164.match(phone):
        problems.append(f"phone {values['phone']!r} is not in international form (+31…)")
    elif phone and phone in seen.phones:
        problems.append(f"phone {phone} also on line {seen.phones[phone]}")
    language = values["language"].lower() or "nl"
    if language not in LANGUAGES:
        problems.append(f"language must be one of {', '.join(LANGUAGES)}")
    roles = frozenset(r.strip().lower() for r in values["roles"].split(";") if r.strip())
    if unknown := roles - set(ROLES):
        problems.append(f"unknown role(s) {', '.join(sorted(unknown))}; known: {', '.join(ROLES)}")
    if problems:
        return None, problems
    row = RosterRow(
        line=line,
        name=name,
        email=email,
        phone=phone,
        department=values["department"] or None,
        location=values["location"] or None,
        language=language,
        roles=roles,
    )
    return row, []


async def import_roster(
    session: AsyncSession, check: RosterCheck, *, skip_invalid: bool = False
) -> ImportReport:
    """Upsert the valid rows by e-mail. With errors and no skip_invalid, raise RosterInvalid
    (the transaction rolls back and nothing is imported)."""
    if check.errors and not skip_invalid:
        raise RosterInvalid(check.errors)
    people = People(session)
    created = updated = 0
    errors = list(check.errors)
    for row in check.rows:
        person = await people.by_email(row.email)
        if row.phone:
            holder = await people.by_phone(row.phone)
            if holder is not None and (person is None or holder.id != person.id):
                errors.append((row.line, f"phone {row.phone} belongs to another person"))
                continue
        if person is None:
            person = Person(name=row.name, email=row.email)
            session.add(person)
            created += 1
        else:
            updated += 1
        person.name = row.name
        person.phone = row.phone
        person.department = row.department
        person.location = row.location
        person.language = row.language
        await session.flush()
        await people.set_roles(person.id, set(row.roles))
    if len(errors) > len(check.errors) and not skip_invalid:
        raise RosterInvalid(errors)
    await audit(session, "roster.imported", created=created, updated=updated, skipped=len(errors))
    return ImportReport(created, updated, len(errors), errors)
