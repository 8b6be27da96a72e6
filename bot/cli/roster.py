"""`achterban roster …` and `achterban person forget`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from bot.cli.common import Format, err, fail, print_json, print_rows, settings, with_services
from bot.conversation import Services
from bot.i18n import t
from bot.roster import ImportReport, RosterInvalid, check_roster, import_roster
from bot.usecases import Refused
from bot.usecases.people import forget

LONG_IMPORT = 2000  # lines; a smaller list is written before a bar would show
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
    progress = Progress(
        TextColumn("Writing the roster"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=len(check.rows) < LONG_IMPORT,
    )
    task = progress.add_task("import", total=None)

    async def go(services: Services) -> ImportReport:
        return await import_roster(
            services.session,
            check,
            skip_invalid=skip_invalid,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )

    try:
        with progress:
            report = with_services(go)
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


@roster_app.command("list")
def roster_list(fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """List everyone on the roster."""

    async def go(services: Services) -> list[dict[str, object]]:
        roles = await services.people.roles_by_person()
        channels = await services.people.channels_by_person()
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
            for p in await services.people.all()
        ]

    people = with_services(go, read_only=True)
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
    if not yes and not typer.confirm(f"Erase everything that identifies {email}?", err=True):
        raise typer.Exit(1)

    async def go(services: Services) -> None:
        person = await services.people.by_email(email)
        if person is None:
            raise fail(f"No person with e-mail {email}.")
        try:
            await forget(services, person.id, actor_id=None)
        except Refused as refused:
            raise fail(t("en", refused.key, **refused.params)) from None

    with_services(go, cfg=cfg)
    err.print(f"Forgotten: {email}. Anonymous counts and named results are kept without a name.")
