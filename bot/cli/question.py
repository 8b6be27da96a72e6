"""`achterban question …`: create, answers (json/csv/table), themes, list, close, hide."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import typer

from bot.cli import followup
from bot.cli.common import (
    Format,
    err,
    existing,
    fail,
    iso_time,
    person_with_role,
    print_created,
    print_json,
    print_records,
    print_rows,
    settings,
    with_services,
)
from bot.conversation import Services
from bot.i18n import t
from bot.themes import answers as answer_themes
from bot.usecases import Refused, questions
from storage.people import Audience
from storage.questions import Questions


def _refused(refused: Refused, code: int = 1, texts: Mapping[str, str] | None = None) -> typer.Exit:
    """A use case's refusal as this command's error: its own words where `texts` has them,
    else the English catalogue text (which the other commands' messages match)."""
    text = (texts or {}).get(refused.key) or t("en", refused.key, **refused.params)
    return fail(text, code)


question_app = typer.Typer(help="Open questions (open vragen).", no_args_is_help=True)


@question_app.command("create")
def question_create(
    text: str = typer.Option(..., "--text", help="The question."),
    text_en: str | None = typer.Option(
        None, "--text-en", help="The question for English-speaking colleagues (optional)."
    ),
    anonymous: bool = typer.Option(False, "--anonymous", help="Answers without names."),
    closes: str | None = typer.Option(
        None, "--closes", help="ISO-8601 or words ('morgen 17:00'); local time if no offset."
    ),
    audience: str | None = typer.Option(
        None, "--audience", help="department=NAME or location=NAME"
    ),
    created_by: str | None = typer.Option(None, "--created-by", help="E-mail of an OR member."),
    fmt: Format | None = typer.Option(None, "--format", help='json prints {"id": …}'),
) -> None:
    """Create an open question and send it to its audience now."""
    cfg = settings()
    try:
        segment = Audience.parse(audience)
    except ValueError as exc:
        raise fail(str(exc), 2) from exc
    closes_at = iso_time(closes, ZoneInfo(cfg.timezone), "--closes")
    # The use case's refusals in the words of this command's options.
    texts = {
        "qcreate.text_length": f"--text must be 1..{questions.MAX_QUESTION} characters",
        "qcreate.bad_closes": "--closes must be in the future",
        "qcreate.audience_empty": f"--audience {audience or 'everyone'}: "
        "nobody on the roster matches",
    }

    async def go(services: Services) -> tuple[int, int]:
        creator = await person_with_role(services, created_by, questions.CREATORS, "--created-by")
        try:
            opened = await questions.create(
                services,
                text=text,
                text_en=text_en,
                anonymous=anonymous,
                audience=segment,
                closes_at=closes_at,
                created_by=creator.id if creator else None,
            )
        except Refused as refused:
            raise _refused(refused, 2, texts) from refused
        return opened.question.id, opened.sent

    question_id, sent = with_services(go, cfg=cfg)
    print_created(fmt, {"id": question_id, "sent": sent})
    err.print(f"Question {question_id} created; sent to {sent} people.")


@question_app.command("answers")
def question_answers(
    question_id: int = typer.Argument(..., metavar="ID"),
    fmt: Format = typer.Option(Format.table, "--format"),
    contains: str | None = typer.Option(None, "--contains", help="Only answers with this text."),
) -> None:
    """The answers to question ID (hidden answers left out; anonymous ones without names)."""

    async def go(services: Services) -> dict[str, object]:
        questions = Questions(services.session)
        question = existing(await questions.get(question_id), f"Question {question_id}")
        answers = await questions.answers(question, contains=contains)
        return {
            "id": question.id,
            "question": question.text,
            "anonymous": question.anonymous,
            "status": question.status,
            "audience_size": question.audience_size,
            "answers": [
                {
                    "id": a.id,
                    "date": a.answered_on,
                    "name": a.name,
                    "department": a.department,
                    "text": a.text,
                }
                for a in answers
            ],
        }

    data = with_services(go, read_only=True)
    if fmt is Format.json:
        print_json(data)
        return
    answers: list[dict[str, object]] = data["answers"]  # type: ignore[assignment]
    header = ["id", "date", "name", "department", "text"]
    rows = [[a[h] for h in header] for a in answers]
    print_rows(fmt, header, rows, title=f"{data['id']}: {data['question']}")
    if fmt is Format.table:
        err.print(f"{len(rows)} answers of {data['audience_size']} asked; status {data['status']}.")


@question_app.command("themes")
def question_themes(
    question_id: int = typer.Argument(..., metavar="ID"),
    fmt: Format = typer.Option(Format.table, "--format"),
    survey: int | None = typer.Option(
        None, "--survey", help="ID is then the number of a question in this survey."
    ),
) -> None:
    """Themes in the answers to question ID: label, count, sentiment, examples (offline).

    The answer ids are those of `question answers ID` (of `survey results SURVEY` with
    --survey); themes under 5 answers are "overig"."""
    lang = settings().locale

    async def go(services: Services) -> dict[str, object]:
        if survey is None:
            found = await answer_themes.question_answers(services.session, question_id)
            source = existing(found, f"Question {question_id}")
        else:
            found = await answer_themes.survey_answers(services.session, survey, question_id)
            source = existing(found, f"Question {question_id} of survey {survey}")
        themes = await answer_themes.themes_of(source.pairs)
        return {
            "id": question_id,
            **({"survey": survey} if survey is not None else {}),
            "question": source.question,
            "answers": len(source.pairs),
            "themes": answer_themes.as_dicts(themes, lang),
            "texts": dict(source.pairs),
        }

    data = with_services(go, read_only=True)
    texts: dict[int, str] = data.pop("texts")  # type: ignore[assignment]
    themes: list[dict[str, Any]] = data["themes"]  # type: ignore[assignment]
    if fmt is Format.json:
        print_json(data)
        return
    header = ["theme", "count", "sentiment", "terms", "examples"]
    rows = [
        [
            th["label"],
            th["count"],
            t(lang, f"themes.{th['sentiment']}"),
            ", ".join(th["terms"]),
            "\n".join(f"{i}: {_short(texts[i])}" for i in th["examples"]),
        ]
        for th in themes
    ]
    print_rows(fmt, header, rows, title=f"{data['id']}: {data['question']}")
    if fmt is Format.table:
        err.print(f"{data['answers']} answers in {len(themes)} groups.")


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@question_app.command("list")
def question_list(fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """The 50 most recent open questions, with their number of answers."""

    async def go(services: Services) -> list[dict[str, object]]:
        questions = Questions(services.session)
        return [
            {
                "id": q.id,
                "question": q.text,
                "status": q.status,
                "anonymous": q.anonymous,
                "answers": await questions.count_answers(q.id),
                "closes_at": q.closes_at.isoformat() if q.closes_at else None,
            }
            for q in await questions.recent()
        ]

    found = with_services(go, read_only=True)
    header = ["id", "question", "status", "anonymous", "answers", "closes_at"]
    print_records(fmt, found, header, title="Open questions")


@question_app.command("close")
def question_close(question_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Close question ID now (no more answers)."""

    async def go(services: Services) -> None:
        try:
            await questions.close(services, question_id, actor_id=None)
        except Refused as refused:
            raise _refused(refused) from refused

    with_services(go)
    err.print(f"Question {question_id} closed.")


@question_app.command("hide")
def question_hide(
    answer_id: int = typer.Argument(..., metavar="ANSWER_ID"),
    by: str = typer.Option(..., "--by", help="E-mail of the moderator hiding it."),
) -> None:
    """Hide an abusive answer: kept for the audit log, never shown or exported."""

    async def go(services: Services) -> bool:
        moderator = await person_with_role(services, by, questions.MODERATORS, "--by")
        assert moderator is not None
        try:
            return await questions.hide_answer(
                services, answer_id, moderator_id=moderator.id, via="cli"
            )
        except Refused as refused:
            raise _refused(refused) from refused

    if not with_services(go):
        raise fail(f"Answer {answer_id} was hidden already.")
    err.print(f"Answer {answer_id} hidden.")


@question_app.command("follow-up")
def question_follow_up(
    question_id: int = typer.Argument(..., metavar="ID"),
    text: str = typer.Option(..., "--text", help=followup.TEXT_HELP),
    by: str | None = typer.Option(None, "--by", help=followup.BY_HELP),
    fmt: Format | None = typer.Option(None, "--format", help=followup.FORMAT_HELP),
) -> None:
    """Wat doet de OR ermee? Send what the OR will do with closed question ID's answers to
    its audience, with the number of answers and the themes, as a broadcast."""
    followup.follow_up("question", question_id, text, by, fmt)
