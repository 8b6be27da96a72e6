"""Roster CSV import: validate every line first, then upsert by e-mail in one transaction."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import LANGUAGES, t
from storage.audit import audit
from storage.people import ROLES
from storage.roster import Changes, Known, known_people, write_changes

Progress = Callable[[int, int], None]  # (rows written, rows to write)
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


class Problems(str):
    """What is wrong with one line: the English text (the CLI prints it, logs may hold it)
    that also keeps its catalogue keys, so the dashboard says it in the visitor's language
    (`in_language`)."""

    parts: tuple[tuple[str, dict[str, object]], ...]

    def __new__(cls, *parts: tuple[str, dict[str, object]]) -> Problems:
        made = super().__new__(cls, "; ".join(t("en", key, **params) for key, params in parts))
        made.parts = parts
        return made

    def in_language(self, lang: str) -> str:
        return "; ".join(t(lang, key, **params) for key, params in self.parts)


def problem_text(lang: str, message: str) -> str:
    """A roster error in `lang` when it carries its keys, else as it is."""
    return message.in_language(lang) if isinstance(message, Problems) else message


def _problem(key: str, **params: object) -> tuple[str, dict[str, object]]:
    return f"roster.{key}", params


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
        result.errors.append((1, Problems(_header_problem(header))))
        return result
    seen = _Seen()
    for raw in reader:
        line = reader.line_num
        if None in raw:
            result.errors.append((line, Problems(_problem("extra_cells"))))
            continue
        values = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
        row, problems = _row(line, values, seen)
        if problems:
            result.errors.append((line, Problems(*problems)))
        else:
            assert row is not None
            seen.add(row)
            result.rows.append(row)
    return result


def _header_problem(header: tuple[str, ...]) -> tuple[str, dict[str, object]]:
    missing = ", ".join(h for h in HEADER if h not in header) or "—"
    extra = ", ".join(h for h in header if h not in HEADER) or "—"
    return _problem("header", header=",".join(HEADER), missing=missing, extra=extra)


@dataclass
class _Seen:
    """E-mail addresses and phones of the lines read so far: a second one is an error."""

    emails: dict[str, int] = field(default_factory=dict)
    phones: dict[str, int] = field(default_factory=dict)

    def add(self, row: RosterRow) -> None:
        self.emails[row.email] = row.line
        if row.phone:
            self.phones[row.phone] = row.line


def _row(
    line: int, values: dict[str, str], seen: _Seen
) -> tuple[RosterRow | None, list[tuple[str, dict[str, object]]]]:
    """One line as a roster row, or what is wrong with it."""
    problems = []
    name, email = values["name"], values["email"].lower()
    if not name or len(name) > 200:
        problems.append(_problem("name_required"))
    if not _EMAIL.match(email) or len(email) > 320:
        problems.append(_problem("invalid_email", value=repr(values["email"])))
    elif email in seen.emails:
        problems.append(_problem("email_twice", email=email, line=seen.emails[email]))
    phone = normalise_phone(values["phone"]) or None
    if phone and not _E164.match(phone):
        problems.append(_problem("phone_form", value=repr(values["phone"])))
    elif phone and phone in seen.phones:
        problems.append(_problem("phone_twice", phone=phone, line=seen.phones[phone]))
    language = values["language"].lower() or "nl"
    if language not in LANGUAGES:
        problems.append(_problem("language", languages=", ".join(LANGUAGES)))
    roles = frozenset(r.strip().lower() for r in values["roles"].split(";") if r.strip())
    if unknown := roles - set(ROLES):
        names, known = ", ".join(sorted(unknown)), ", ".join(ROLES)
        problems.append(_problem("unknown_roles", count=len(unknown), roles=names, known=known))
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
    session: AsyncSession,
    check: RosterCheck,
    *,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Upsert the valid rows by e-mail. With errors and no skip_invalid, raise RosterInvalid
    (the transaction rolls back and nothing is imported).

    The people are read once and the rows applied in memory in file order, exactly as one
    at a time would (a phone is taken when someone else holds it at that point of the list),
    then only what changed is written in batches: 100,000 people in seconds, not minutes.
    `progress(done, total)` follows the writes."""
    if check.errors and not skip_invalid:
        raise RosterInvalid(check.errors)
    known = await known_people(session)
    by_email = {k.email: k for k in reversed(known) if k.email}  # the oldest wins a tie
    phones = {k.phone: k for k in known if k.phone}
    changes = Changes()
    updated = 0
    errors = list(check.errors)
    for row in check.rows:
        person = by_email.get(row.email)
        holder = phones.get(row.phone) if row.phone else None
        if holder is not None and holder is not person:
            errors.append((row.line, Problems(_problem("phone_taken", phone=row.phone))))
            continue
        if person is None:
            person = Known(None, row.email, row.name, None, None, None, row.language)
            by_email[row.email] = person
            changes.created.append(person)
        else:
            updated += 1
        _apply(row, person, phones, changes)
    if len(errors) > len(check.errors) and not skip_invalid:
        raise RosterInvalid(errors)
    total = changes.size()
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    await write_changes(session, changes, advance)
    created = len(changes.created)
    await audit(session, "roster.imported", created=created, updated=updated, skipped=len(errors))
    return ImportReport(created, updated, len(errors), errors)


def _apply(row: RosterRow, person: Known, phones: dict[str, Known], changes: Changes) -> None:
    """One row onto the person in memory; an existing person is written only if it changed."""
    before = person.values()
    if person.phone != row.phone:
        if person.phone and phones.get(person.phone) is person:
            del phones[person.phone]
        if row.phone:
            phones[row.phone] = person
    person.name, person.phone, person.language = row.name, row.phone, row.language
    person.department, person.location = row.department, row.location
    if person.id is not None and person.values() != before:
        changes.updated.append(person)
    for role in sorted(row.roles - person.roles):
        changes.roles_added.append((person, role))
    if person.id is not None:
        changes.roles_removed += [(person.id, r) for r in sorted(person.roles - row.roles)]
    person.roles = set(row.roles)
