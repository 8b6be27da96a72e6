"""The consultation report for the employer, as a PDF: made on the server by WeasyPrint from
the Jinja2 template survey_report.html (which includes the same results part the dashboard
page shows), in Dutch or English. `achterban survey report` and the dashboard's download
both call `report_pdf`.

Nothing is fetched while rendering (`_no_fetch`): the charts are inline SVG, the styles are
in the template, and a URL in the OR's texts must not make the server call out. Laying out a
report takes a second or so of CPU, so it runs in a worker thread.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.web.render import render_text
from bot.web.survey_page import SurveyView, group_name

if TYPE_CHECKING:  # WeasyPrint (about 40 MB) is loaded only when a report is made
    from weasyprint import Document


def _no_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    raise ValueError(f"the report loads nothing: {url[:60]}")


def report_html(view: SurveyView, lang: str, timezone: ZoneInfo, now: datetime) -> str:
    return render_text(
        "survey_report.html",
        lang,
        timezone,
        view=view,
        survey=view.survey,
        turnout=view.results["turnout"],
        generated=now,
        group_name=lambda name, dim: group_name(name, dim, lang),
    )


def report_document(view: SurveyView, lang: str, timezone: ZoneInfo, now: datetime) -> Document:
    """The laid-out pages (WeasyPrint's document: the test reads its text from these)."""
    html = report_html(view, lang, timezone, now)
    from weasyprint import HTML

    return HTML(string=html, url_fetcher=_no_fetch).render()


def page_texts(document: Document) -> list[str]:
    """The text on each laid-out page, in reading order (for tests and checks)."""
    texts = []
    for page in document.pages:
        parts: list[str] = []
        stack = [page._page_box]
        while stack:
            box = stack.pop()
            if hasattr(box, "text"):
                parts.append(box.text)
            stack.extend(reversed(list(getattr(box, "children", ()))))
        texts.append(" ".join(parts))
    return texts


async def report_pdf(
    view: SurveyView, lang: str, timezone: ZoneInfo, now: datetime | None = None
) -> bytes:
    when = now or datetime.now(timezone)

    def make() -> bytes:
        pdf: bytes = report_document(view, lang, timezone, when).write_pdf()
        return pdf

    return await asyncio.to_thread(make)
