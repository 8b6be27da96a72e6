"""`achterban roster …` and `achterban person forget`."""

from __future__ import annotations

from pathlib import Path

import typer

from bot.cli.common import (
    Format,
    database,
    err,
    fail,
    prepare_database,
    print_json,
    print_rows,
    run,
    settings,
)
from bot.roster import RosterInvalid, check_roster, import_roster
from storage.audit import audit
from storage.people import People

roster_app = typer.Typer(help="The staff list: import and list.", no_args_is_help=True)
person_app = typer.Typer(help="One person's data.", no_args_is_help=True)


@roster_app.command("import")
def roster_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Import the valid lines anyway."
    ),
) -> None:
    """Import FILE.csv (name,email,phone,department,location,language,roles); upsert by e-mail."""
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise fail(f"{file}: not UTF-8 text ({exc.reason})", 2) from exc
    check = check_roster(text)
    cfg = settings()
    prepare_database(cfg)

    async def go() -> None:
        try:
            async with database(cfg) as db, db.transaction() as session:
                report = await import_roster(session, check, skip_invalid=skip_invalid)
        except RosterInvalid as exc:
            for line, message in exc.errors:
                err.print(f"{file}:{line}: {message}", markup=False)
            err.print(
                f"[red]{len(exc.errors)} invalid line(s); nothing imported[/red] "
                "(fix them, or use --skip-invalid)"
            )
            raise typer.Exit(1) from exc
        for line, message in report.errors:
            err.print(f"{file}:{line}: skipped: {message}", markup=False)
        err.print(
            f"Imported: {report.created} new, {report.updated} updated, {report.skipped} skipped."
        )

    run(go())


@roster_app.command("list")
def roster_list(fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """List everyone on the roster."""
    cfg = settings()
    prepare_database(cfg)

    async def go() -> list[dict[str, object]]:
        async with database(cfg) as db, db.transaction(read_only=True) as session:
            people = People(session)
            roles = await people.roles_by_person()
            channels = await people.channels_by_person()
            return [
                {
                    "name": p.name,
                    "email": p.email,
                    "phone": p.phone,
                    "department": p.department,
                    "location": p.location,
                    "language": p.language,
                    "roles": sorted(roles.get(p.id, ())),
                    "channels": sorted(channels.get(p.id, ())),
                }
                for p in await people.all()
            ]

    people = run(go())
    if fmt is Format.json:
        print_json(people)
        return
    header = ["name", "email", "phone", "department", "location", "language", "roles", "channels"]
    rows = [
        [*(p[h] for h in header[:6]), ";".join(p["roles"]), ";".join(p["channels"])]  # type: ignore[arg-type]
        for p in people
    ]
    print_rows(fmt, header, rows, title=f"Roster ({len(rows)})")


@person_app.command("forget")
def person_forget(
    email: str,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Erase a person's identifying data (name, e-mail, phone, accounts); counts stay."""
    cfg = settings()
    prepare_database(cfg)
    if not yes and not typer.confirm(f"Erase everything that identifies {email}?", err=True):
        raise typer.Exit(1)

    async def go() -> None:
        async with database(cfg) as db, db.transaction() as session:
            people = People(session)
            person = await people.by_email(email)
            if person is None:
                raise fail(f"No person with e-mail {email}.")
            await people.forget(person)
            await audit(session, "person.forgotten", subject=f"person:{person.id}")

    run(go())
    err.print(f"Forgotten: {email}. Anonymous counts and named results are kept without a name.")
