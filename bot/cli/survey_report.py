"""Closing a consultation from the command line:

- `achterban survey report ID --output FILE.pdf [--lang nl|en]`: the report for the employer,
  the same PDF the dashboard's survey page offers (bot/web/survey_report.py);
- `achterban survey follow-up ID --text TEXT [--by EMAIL]`: "Wat doet de OR ermee?", sent to
  the survey's audience with the results (bot/usecases/survey_followup.py), as `poll
  follow-up` and `question follow-up` do (bot/cli/followup.py).

They add commands to the survey command group (bot/cli/survey.py); bot/cli/main.py imports
this module so the commands exist.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import typer

from bot.cli import followup
from bot.cli.common import (
    Format,
    err,
    fail,
    person_with_role,
    print_created,
    settings,
    with_services,
)
from bot.cli.survey import Language, survey_app
from bot.conversation import Services
from bot.i18n import t
from bot.usecases import Refused, broadcasts, followups
from bot.usecases.survey_followup import survey_subject


@survey_app.command("report")
def survey_report(
    survey_id: int = typer.Argument(..., metavar="ID"),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the PDF."),
    lang: Language = typer.Option(Language.nl, "--lang", help="The report's language."),
) -> None:
    """Write survey ID's report for the employer as a PDF: title, questions, period, audience
    and turnout, results per question with charts, themes with anonymous quotes, and the
    OR's conclusion ("Wat doet de OR ermee?")."""
    from bot.web.survey_page import survey_view
    from bot.web.survey_report import report_pdf

    cfg = settings()
    tz = ZoneInfo(cfg.timezone)

    async def go(services: Services) -> bytes | None:
        view = await survey_view(services, survey_id, lang.value)
        if view is None:
            return None
        return await report_pdf(view, lang.value, tz, services.now)

    pdf = with_services(go, read_only=True, cfg=cfg)
    if pdf is None:
        raise fail(f"Survey {survey_id} does not exist.", 1)
    try:
        output.write_bytes(pdf)
    except OSError as exc:
        raise fail(f"--output: cannot write {output}: {exc}", 2) from exc
    err.print(f"Report of survey {survey_id} written to {output} ({len(pdf) // 1024} KiB).")


@survey_app.command("follow-up")
def survey_follow_up(
    survey_id: int = typer.Argument(..., metavar="ID"),
    text: str = typer.Option(..., "--text", help=followup.TEXT_HELP),
    by: str | None = typer.Option(None, "--by", help=followup.BY_HELP),
    fmt: Format | None = typer.Option(None, "--format", help=followup.FORMAT_HELP),
) -> None:
    """Wat doet de OR ermee? Send what the OR will do with closed survey ID's outcome to its
    audience, with the results, as a broadcast (reach and feedback measured). It is also the
    conclusion of the report. The results are read first, without holding the write lock."""

    def failure(refused: Refused) -> typer.Exit:
        code = 2 if refused.key in followup.USAGE else 1
        return fail(t("en", refused.key, **refused.params), code)

    async def read(services: Services) -> tuple[followups.Subject, broadcasts.Actor]:
        writer = await person_with_role(services, by, set(followups.WRITERS), "--by")
        try:
            subject = await survey_subject(services, survey_id)
        except Refused as refused:
            raise failure(refused) from refused
        return subject, broadcasts.Actor(writer.id if writer else None, via="cli")

    subject, actor = with_services(read, read_only=True)

    async def send(services: Services) -> followups.Sent:
        try:
            return await followups.send(services, subject, text, actor)
        except Refused as refused:
            raise failure(refused) from refused

    sent = with_services(send)
    print_created(fmt, {"id": sent.broadcast_id, "queued": sent.queued})
    err.print(
        f"Follow-up sent as broadcast {sent.broadcast_id}: {sent.queued} messages queued now, "
        "the rest by the scheduler; reach with 'achterban broadcast status'."
    )
