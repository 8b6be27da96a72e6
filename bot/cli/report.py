"""`achterban report …`: list, show ID, status ID NEW — for moderators at the server.

The reporter's name is shown only for named reports; "hidden" and fully anonymous reports
show none (the first keeps a link only to tell the reporter the outcome).
"""

from __future__ import annotations

import typer

from bot.cli.common import (
    Format,
    err,
    existing,
    fail,
    person_with_role,
    print_json,
    print_records,
    print_rows,
    with_services,
)
from bot.conversation import Services
from bot.i18n import t
from bot.usecases import Refused
from bot.usecases.reports import RETYPE, set_status
from storage.models import Report
from storage.reports import NAMED, NEW, REJECTED, STATUSES, Reports

report_app = typer.Typer(help="Unsafe-situation reports (meldingen).", no_args_is_help=True)


def summary(report: Report) -> dict[str, object]:
    return {
        "id": report.id,
        "status": report.status,
        "privacy": report.privacy,
        "submitted_on": report.submitted_on.isoformat(),
        "description": report.description,
        "location": report.location,
    }


@report_app.command("list")
def report_list(
    status: str | None = typer.Option(None, "--status", help=f"One of: {', '.join(STATUSES)}"),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """The 50 most recent reports."""
    if status is not None and status not in STATUSES:
        raise fail(f"--status must be one of {', '.join(STATUSES)}", 2)

    async def go(services: Services) -> list[dict[str, object]]:
        return [summary(r) for r in await Reports(services.session).recent(status=status)]

    found = with_services(go, read_only=True)
    header = ["id", "status", "privacy", "submitted_on", "location", "description"]
    print_records(fmt, found, header, title="Reports")


@report_app.command("show")
def report_show(
    report_id: int = typer.Argument(..., metavar="ID"),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """One report with its photos (files in the media store) and added notes."""

    async def go(services: Services) -> dict[str, object]:
        store = services.media_store
        assert store is not None  # Engine always gives the CLI its media store
        reports = Reports(services.session)
        report = existing(await reports.get(report_id), f"Report {report_id}")
        data = summary(report)
        reporter = None
        if report.privacy == NAMED and report.reporter_id is not None:
            person = await services.people.get(report.reporter_id)
            reporter = {"name": person.name, "email": person.email} if person else None
        data.update(
            reporter=reporter,
            recognisable=report.recognisable,
            consent=report.consent,
            status_reason=report.status_reason,
            photos=[
                {
                    "processed": p.processed_id,
                    "processed_path": str(store.path(p.processed_id)),
                    "original": p.original_id,
                    "original_path": str(store.path(p.original_id)) if p.original_id else None,
                    "faces": p.faces,
                    "blurred": p.blurred,
                    "size": [p.width, p.height],
                }
                for p in await reports.photos(report.id)
            ],
            notes=[
                {
                    "date": n.added_on.isoformat(),
                    "from_reporter": n.from_reporter,
                    "text": n.text,
                }
                for n in await reports.notes(report.id)
            ],
        )
        return data

    data = with_services(go, read_only=True)
    if fmt is Format.json:
        print_json(data)
        return
    rows = [[key, value] for key, value in data.items() if key not in ("photos", "notes")]
    photos: list[dict[str, object]] = data["photos"]  # type: ignore[assignment]
    notes: list[dict[str, object]] = data["notes"]  # type: ignore[assignment]
    rows += [[f"photo {i}", p["processed_path"]] for i, p in enumerate(photos, start=1)]
    rows += [[f"note {n['date']}", n["text"]] for n in notes]
    print_rows(fmt, ["field", "value"], rows, title=f"Report {report_id}")


@report_app.command("status")
def report_status(
    report_id: int = typer.Argument(..., metavar="ID"),
    new: str = typer.Argument(..., metavar="NEW", help="published, forwarded, resolved, rejected"),
    reason: str | None = typer.Option(None, "--reason", help="Shown to the reporter."),
    by: str | None = typer.Option(None, "--by", help="E-mail of the moderator."),
    fmt: Format | None = typer.Option(None, "--format"),
) -> None:
    """Change the status of report ID; the reporter is told (unless fully anonymous)."""
    if new not in STATUSES or new == NEW:
        raise fail(f"NEW must be one of {', '.join(s for s in STATUSES if s != NEW)}", 2)

    async def go(services: Services) -> dict[str, object]:
        moderator = await person_with_role(services, by, {"moderator", "admin"}, "--by")
        try:
            changed = await set_status(
                services,
                report_id,
                new,
                moderator_id=moderator.id if moderator else None,
                reason=reason,
            )
        except Refused as refused:
            raise _refused(refused, new) from refused
        return {"id": report_id, "old": changed.old, "status": new}

    data = with_services(go)
    if fmt is Format.json:
        print_json(data)
    err.print(f"Report {report_id}: {data['old']} → {data['status']}.")


def _refused(refused: Refused, new: str) -> typer.Exit:
    """The use case's refusal in this command's words: a bad --reason is a usage error (2),
    a report that does not exist or cannot go to NEW a plain failure (1)."""
    if refused.key == "report.not_changed":
        return fail(
            f"Report {refused.params['id']} cannot go from {refused.params['status']} to {new}."
        )
    if refused.key == "report.not_found":
        return fail(f"Report {refused.params['id']} does not exist.")
    if refused.key == RETYPE:
        needed = " (required to reject)" if new == REJECTED else ""
        return fail(f"--reason must be 1..{refused.params['max']} characters{needed}", 2)
    return fail(t("en", refused.key, **refused.params), 2)
