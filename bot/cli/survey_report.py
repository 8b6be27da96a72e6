"""`achterban survey report ID --output FILE.pdf [--lang nl|en]`: the consultation report for
the employer, the same PDF the dashboard's survey page offers (bot/web/survey_report.py).

It adds a command to the survey command group (bot/cli/survey.py); bot/cli/main.py imports
this module so the command exists.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import typer

from bot.cli.common import err, fail, settings, with_services
from bot.cli.survey import Language, survey_app
from bot.conversation import Services


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
