"""`achterban survey …`: create (from a file or a template), results, crosstab, close, list,
templates. Every command calls the survey use case (bot/usecases/surveys.py)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import typer

from bot.cli.common import (
    Format,
    err,
    existing,
    fail,
    iso_time,
    person_with_role,
    print_json,
    print_records,
    print_rows,
    settings,
    with_services,
)
from bot.conversation import Services
from bot.i18n import t
from bot.surveys import fileformat
from bot.usecases import surveys as survey_cases
from bot.usecases.surveys import SurveyDraft, SurveyRefused
from storage.people import Audience
from storage.surveys import Surveys

survey_app = typer.Typer(
    help="Consultations (raadplegingen): multi-question surveys.", no_args_is_help=True
)


class FileFormat(StrEnum):
    toml = "toml"
    json = "json"


class Language(StrEnum):
    nl = "nl"
    en = "en"


def _refused(refused: SurveyRefused) -> typer.Exit:
    return fail(t("en", refused.key, **refused.params), 2)


def _draft_text(file: Path | None, template: str | None, language: Language) -> str:
    if (file is None) == (template is None):
        raise fail("Give --file FILE or --template NAME (one of them).", 2)
    if template is not None:
        try:
            return fileformat.template_text(template, language.value)
        except SurveyRefused as refused:
            raise _refused(refused) from None
    assert file is not None
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"--file: cannot read {file}: {exc}", 2) from exc


@survey_app.command("create")
def survey_create(
    file: Path | None = typer.Option(None, "--file", help="A survey file (README: Consultations)."),
    fmt: FileFormat = typer.Option(FileFormat.toml, "--format", help="The file's format."),
    template: str | None = typer.Option(
        None, "--template", help="A template name (see 'templates')."
    ),
    language: Language = typer.Option(Language.nl, "--language", help="The template's language."),
    opens: str | None = typer.Option(
        None, "--opens", help="ISO-8601 or words ('morgen 17:00'); overrides the file."
    ),
    closes: str | None = typer.Option(
        None, "--closes", help="ISO-8601 or words ('morgen 17:00'); overrides the file."
    ),
    audience: str | None = typer.Option(
        None, "--audience", help="department=NAME or location=NAME"
    ),
    created_by: str | None = typer.Option(None, "--created-by", help="E-mail of an OR member."),
) -> None:
    """Create a survey from a TOML (or JSON) file or a template; it opens at its opening time
    (now when none) and invites its audience. Prints the new survey's id."""
    cfg = settings()
    tz = ZoneInfo(cfg.timezone)
    text = _draft_text(file, template, language)
    overrides: dict[str, Any] = {}
    if opens is not None:
        overrides["opens_at"] = iso_time(opens, tz, "--opens")
    if closes is not None:
        overrides["closes_at"] = iso_time(closes, tz, "--closes")
    if audience is not None:
        try:
            overrides["audience"] = Audience.parse(audience)
        except ValueError as exc:
            raise fail(str(exc), 2) from exc

    async def go(services: Services) -> tuple[int, int]:
        creator = await person_with_role(
            services, created_by, {"or_member", "admin"}, "--created-by",
            refusal="is not an OR member",
        )  # fmt: skip
        try:
            draft = fileformat.to_draft(fileformat.load(text, fmt.value), now=services.now, tz=tz)
            draft = SurveyDraft(**{**_fields(draft), **overrides})
            created = await survey_cases.create_survey(
                services, draft, actor_id=creator.id if creator else None, via="cli"
            )
        except SurveyRefused as refused:
            raise _refused(refused) from None
        return created.survey.id, created.sent

    survey_id, sent = with_services(go, cfg=cfg)
    typer.echo(survey_id)
    err.print(f"Survey {survey_id} created" + (f"; sent to {sent} people." if sent else "."))


def _fields(draft: SurveyDraft) -> dict[str, Any]:
    return {name: getattr(draft, name) for name in SurveyDraft.__dataclass_fields__}


@survey_app.command("results")
def survey_results(
    survey_id: int = typer.Argument(..., metavar="ID"),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """Results of survey ID: turnout, and per question counts, percentages, mean and eNPS.
    json is the whole result (also turnout per department, location and channel, groups
    under 5 merged); csv and table one row per question and answer value."""

    async def go(services: Services) -> dict[str, Any]:
        try:
            return await survey_cases.results(services, survey_id)
        except SurveyRefused as refused:
            raise _refused(refused) from None

    data = with_services(go, read_only=True)
    if fmt is Format.json:
        print_json(data)
        return
    rows: list[list[Any]] = []
    for q in data["questions"]:
        for c in q.get("counts", ()):
            rows.append([q["position"], q["kind"], c["label"], c["count"], c["percent"]])
        if q.get("mean") is not None:
            rows.append([q["position"], q["kind"], "mean", q["mean"], ""])
        if q.get("enps") is not None:
            rows.append([q["position"], q["kind"], "eNPS", q["enps"], ""])
        if q["kind"] == "open":
            rows.append([q["position"], q["kind"], "answers", len(q["answers"]), ""])
        rows.append([q["position"], q["kind"], "answered", q["answered"], q["answered_percent"]])
    turnout = data["turnout"]
    title = (
        f"{survey_id}: {data['survey']['title']} — {turnout['finished']} of "
        f"{turnout['audience']} ({turnout['percent']}%)"
    )
    print_rows(fmt, ["question", "kind", "answer", "count", "percent"], rows, title=title)


@survey_app.command("crosstab")
def survey_crosstab(
    survey_id: int = typer.Argument(..., metavar="ID"),
    question: int = typer.Option(..., "--question", help="The question's number."),
    by: str = typer.Option(..., "--by", help="department, location or a question's number"),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """One question by department, location or another question (groups under 5 merged)."""

    async def go(services: Services) -> dict[str, Any]:
        try:
            return await survey_cases.crosstab(services, survey_id, question, by)
        except SurveyRefused as refused:
            raise _refused(refused) from None

    data = with_services(go, read_only=True)
    if fmt is Format.json:
        print_json(data)
        return
    rows = [
        [r["group"], r["respondents"], c["label"], c["count"], c["percent"]]
        for r in data["rows"]
        for c in r["counts"]
    ]
    header = ["group", "respondents", "answer", "count", "percent"]
    print_rows(fmt, header, rows, title=f"{survey_id}: question {question} by {data['by']}")
    if data["hidden"]:
        err.print("Groups too small to show were left out (fewer than 5 together).")


@survey_app.command("close")
def survey_close(survey_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Close survey ID now (those who had not finished are told their answers do not count)."""

    async def go(services: Services) -> bool:
        survey = existing(await Surveys(services.session).get(survey_id), f"Survey {survey_id}")
        return await survey_cases.close_survey(services, survey)

    if not with_services(go):
        raise fail(f"Survey {survey_id} is not open.")
    err.print(f"Survey {survey_id} closed.")


@survey_app.command("list")
def survey_list(fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """The latest surveys."""

    async def go(services: Services) -> list[dict[str, Any]]:
        return [
            {
                "id": s.id,
                "title": s.title,
                "status": s.status,
                "anonymous": s.anonymous,
                "audience_size": s.audience_size,
                "closes_at": s.closes_at.isoformat(),
            }
            for s in await Surveys(services.session).recent()
        ]

    header = ["id", "title", "status", "anonymous", "audience_size", "closes_at"]
    print_records(fmt, with_services(go, read_only=True), header, title="Surveys")


@survey_app.command("templates")
def survey_templates(
    language: Language = typer.Option(Language.nl, "--language"),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """The templates for --template, with their titles."""
    records = []
    for name in fileformat.template_names(language.value):
        data = fileformat.load(fileformat.template_text(name, language.value))
        records.append(
            {
                "name": name,
                "title": data.get("title", ""),
                "questions": len(data.get("questions", [])),
            }
        )
    print_records(fmt, records, ["name", "title", "questions"], title="Survey templates")
