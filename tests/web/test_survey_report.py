"""The consultation report for the employer: the PDF opens, holds the figures, the themes with
anonymous quotes (only from themes of 5+ answers), never a name, and the OR's conclusion
("Wat doet de OR ermee?", sent as a follow-up); in Dutch and English; from the CLI too.

How the text is checked: no PDF reader is installed (pypdf and poppler's pdftotext are not
on this machine), and WeasyPrint writes text as subset-font glyph ids, so the bytes cannot be
searched. So the test reads the text of the laid-out pages from WeasyPrint's own document
(`report_document`, the very object `write_pdf` serialises) and checks the written bytes
separately: a PDF header and trailer, and one page object per laid-out page.
"""

from __future__ import annotations

import asyncio
import re
import zlib
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from typer.testing import CliRunner

from bot.cli.main import app
from bot.engine import Engine
from bot.usecases import broadcasts
from bot.usecases import surveys as survey_cases
from bot.usecases.survey_followup import follow_up_survey
from bot.web.survey_page import survey_view
from bot.web.survey_report import page_texts, report_document, report_pdf
from storage.surveys import Surveys
from tests.support.org import Org
from tests.support.usecases import run
from tests.web.test_admin_surveys import PARKING, _answered

TZ = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 12, 4, 17, 0, tzinfo=TZ)
CONCLUSION = "De OR adviseert negatief tenzij er 40 extra parkeerplaatsen komen."


def _pages(pdf: bytes) -> int:
    """Page objects in the PDF, also inside compressed object streams (each stream must
    inflate), after checking that the trailer's startxref points at the cross-reference."""
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    offset = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    assert re.match(rb"xref|\d+ \d+ obj", pdf[offset:]), "startxref points at no xref"
    parts = [pdf]
    for stream in re.finditer(rb"/FlateDecode[^>]*>>\s*stream\r?\n", pdf):
        parts.append(zlib.decompressobj().decompress(pdf[stream.end() :]))
    return sum(len(re.findall(rb"/Type\s*/Page(?![s\w])", part)) for part in parts)


async def _close_and_conclude(engine: Engine, survey_id: int) -> None:
    """Close the survey and send the OR's conclusion as its follow-up."""

    async def go(services):  # type: ignore[no-untyped-def]
        survey = await Surveys(services.session).get(survey_id)
        await survey_cases.close_survey(services, survey)
        await follow_up_survey(services, survey_id, CONCLUSION, broadcasts.Actor(None))

    await run(engine, go)


def _charts(document) -> int:  # type: ignore[no-untyped-def]
    """The SVG charts laid out on the pages (WeasyPrint draws them into the PDF)."""
    found = 0
    for page in document.pages:
        stack = [page._page_box]
        while stack:
            box = stack.pop()
            found += type(getattr(box, "replacement", None)).__name__ == "SVGImage"
            stack.extend(getattr(box, "children", ()))
    return found


async def _text(engine: Engine, survey_id: int, lang: str) -> tuple[str, int, bytes]:
    async with engine.db.transaction(read_only=True) as session:
        view = await survey_view(engine.services(session), survey_id, lang)
    assert view is not None
    document = await asyncio.to_thread(report_document, view, lang, TZ, NOW)
    pdf = await report_pdf(view, lang, TZ, NOW)
    # Four closed questions and the turnout by department, location and channel.
    assert _charts(document) == 7
    return " ".join(page_texts(document)), len(document.pages), pdf


async def test_the_report_holds_the_figures_themes_and_conclusion(engine: Engine, org: Org) -> None:
    survey_id = await _answered(engine, org)
    await _close_and_conclude(engine, survey_id)
    text, pages, pdf = await _text(engine, survey_id, "nl")
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert pages >= 2 and _pages(pdf) == pages
    for expected in [
        "Werkdruk",  # the title
        "Steun je het voorstel?",  # the questions
        "Wat moet de OR weten?",
        "8 van 10 ingevuld (80.0%)",  # turnout
        "Streefdoel 50% gehaald",
        "Iedereen",  # audience
        "62.5%",  # question 1: 5 of 8 Ja
        "Gemiddelde: 4.5",  # the scale
        "eNPS: 0.0 (3 promotors, 2 neutraal, 3 criticasters)",
        "overig",  # themes: the rest
        CONCLUSION,
        "Gemaakt op 4 dec 2026 17:00",
    ]:
        assert expected in text, expected
    quoted = [p for p in PARKING if p in text]
    assert 1 <= len(quoted) <= 3  # representative answers of the parking theme
    assert "Niets" not in text  # answers in "overig" are never quoted
    for name in ("Olga", "Emp0", "Emp1", "emp0@example.org"):
        assert name not in text


async def test_a_named_survey_in_english_quotes_no_names_and_awaits_a_conclusion(
    engine: Engine, org: Org
) -> None:
    survey_id = await _answered(engine, org, anonymous=False)
    text, _pages_laid, pdf = await _text(engine, survey_id, "en")
    assert "8 of 10 completed (80.0%)" in text and "Mean: 4.5" in text
    assert "The works council has not written its conclusion yet." in text
    assert "still open" in text
    for name in ("Olga", "Emp0", "Emp3", "Emp7"):
        assert name not in text
    assert pdf.startswith(b"%PDF-")


async def test_cli_writes_the_report(engine: Engine, org: Org, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    survey_id = await _answered(engine, org)
    env = {"ACHTERBAN_DATABASE_URL": settings.db_url, "ACHTERBAN_DATA_DIR": str(tmp_path)}
    out = tmp_path / "rapport.pdf"
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, ["survey", "report", *args], env=env, catch_exceptions=False)

    done = await asyncio.to_thread(invoke, str(survey_id), "--output", str(out), "--lang", "en")
    assert done.exit_code == 0, done.output
    assert f"written to {out}" in done.stderr
    pdf = out.read_bytes()
    assert pdf.startswith(b"%PDF-") and _pages(pdf) >= 2
    missing = await asyncio.to_thread(invoke, "999", "--output", str(tmp_path / "x.pdf"))
    assert missing.exit_code == 1 and "does not exist" in missing.stderr
    assert not (tmp_path / "x.pdf").exists()


async def test_cli_follow_up_then_the_report_concludes_with_it(
    engine: Engine,
    org: Org,
    settings,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    survey_id = await _answered(engine, org)
    env = {"ACHTERBAN_DATABASE_URL": settings.db_url, "ACHTERBAN_DATA_DIR": str(tmp_path)}
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, ["survey", *args], env=env, catch_exceptions=False)

    early = await asyncio.to_thread(invoke, "follow-up", str(survey_id), "--text", CONCLUSION)
    assert early.exit_code == 1 and "close" in early.stderr.lower()
    assert (await asyncio.to_thread(invoke, "close", str(survey_id))).exit_code == 0
    sent = await asyncio.to_thread(
        invoke, "follow-up", str(survey_id), "--text", CONCLUSION, "--by", "olga@example.org"
    )
    assert sent.exit_code == 0, sent.output
    assert "Follow-up sent as broadcast" in sent.stderr
    assert CONCLUSION in (await org.last("emp5")).text
    missing = await asyncio.to_thread(invoke, "follow-up", "999", "--text", "x")
    assert missing.exit_code == 1
    text, _count, _pdf = await _text(engine, survey_id, "nl")
    assert CONCLUSION in text
