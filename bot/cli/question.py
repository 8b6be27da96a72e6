"""`achterban question …`: create, answers (json/csv/table), list, close, hide."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

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
from bot.engine import Engine
from dialogs import open_question
from dialogs.base import Services
from dialogs.question_create import MAX_QUESTION
from storage.models import Person
from storage.people import Audience
from storage.questions import Questions

question_app = typer.Typer(help="Open questions (open vragen).", no_args_is_help=True)


def iso_time(value: str | None, tz: ZoneInfo, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise fail(f"{name}: not an ISO-8601 time: {value!r}", 2) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


async def person_with_role(
    services: Services, email: str | None, roles: set[str], option: str
) -> Person | None:
    """The person behind --created-by/--by, who must hold one of `roles`."""
    if not email:
        return None
    person = await services.people.by_email(email)
    if person is None:
        raise fail(f"{option}: no person with e-mail {email}", 2)
    if not await services.people.roles(person.id) & roles:
        raise fail(f"{option}: {email} does not have the role {' or '.join(sorted(roles))}", 2)
    return person


@question_app.command("create")
def question_create(
    text: str = typer.Option(..., "--text", help="The question."),
    anonymous: bool = typer.Option(False, "--anonymous", help="Answers without names."),
    closes: str | None = typer.Option(None, "--closes", help="ISO-8601; local time if no offset."),
    audience: str | None = typer.Option(
        None, "--audience", help="department=NAME or location=NAME"
    ),
    created_by: str | None = typer.Option(None, "--created-by", help="E-mail of an OR member."),
    fmt: Format | None = typer.Option(None, "--format", help='json prints {"id": …}'),
) -> None:
    """Create an open question and send it to its audience now."""
    cfg = settings()
    question_text = text.strip()
    if not question_text or len(question_text) > MAX_QUESTION:
        raise fail(f"--text must be 1..{MAX_QUESTION} characters", 2)
    try:
        segment = Audience.parse(audience)
    except ValueError as exc:
        raise fail(str(exc), 2) from exc
    closes_at = iso_time(closes, ZoneInfo(cfg.timezone), "--closes")
    prepare_database(cfg)

    async def go() -> tuple[int, int]:
        async with database(cfg) as db, db.transaction() as session:
            services = Engine(db, cfg).services(session)
            if closes_at is not None and closes_at <= services.now:
                raise fail("--closes must be in the future", 2)
            creator = await person_with_role(
                services, created_by, {"or_member", "admin"}, "--created-by"
            )
            if segment.to_dict() and not await services.people.audience_ids(segment):
                raise fail(f"--audience {audience}: nobody on the roster matches", 2)
            question = await Questions(session).create(
                text=question_text,
                anonymous=anonymous,
                audience=segment,
                closes_at=closes_at,
                created_by=creator.id if creator else None,
            )
            actor = creator.id if creator else None
            sent = await open_question.open_question(services, question, actor_id=actor)
            return question.id, sent

    question_id, sent = run(go())
    if fmt is Format.json:
        print_json({"id": question_id, "sent": sent})
    else:
        typer.echo(question_id)
    err.print(f"Question {question_id} created; sent to {sent} people.")


@question_app.command("answers")
def question_answers(
    question_id: int = typer.Argument(..., metavar="ID"),
    fmt: Format = typer.Option(Format.table, "--format"),
    contains: str | None = typer.Option(None, "--contains", help="Only answers with this text."),
) -> None:
    """The answers to question ID (hidden answers left out; anonymous ones without names)."""
    cfg = settings()
    prepare_database(cfg)

    async def go() -> dict[str, object]:
        async with database(cfg) as db, db.transaction(read_only=True) as session:
            questions = Questions(session)
            question = await questions.get(question_id)
            if question is None:
                raise fail(f"Question {question_id} does not exist.")
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

    data = run(go())
    if fmt is Format.json:
        print_json(data)
        return
    answers: list[dict[str, object]] = data["answers"]  # type: ignore[assignment]
    header = ["id", "date", "name", "department", "text"]
    rows = [[a[h] for h in header] for a in answers]
    print_rows(fmt, header, rows, title=f"{data['id']}: {data['question']}")
    if fmt is Format.table:
        err.print(f"{len(rows)} answers of {data['audience_size']} asked; status {data['status']}.")


@question_app.command("list")
def question_list(fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """The 50 most recent open questions, with their number of answers."""
    cfg = settings()
    prepare_database(cfg)

    async def go() -> list[dict[str, object]]:
        async with database(cfg) as db, db.transaction(read_only=True) as session:
            questions = Questions(session)
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

    found = run(go())
    if fmt is Format.json:
        print_json(found)
        return
    header = ["id", "question", "status", "anonymous", "answers", "closes_at"]
    print_rows(fmt, header, [[q[h] for h in header] for q in found], title="Open questions")


@question_app.command("close")
def question_close(question_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Close question ID now (no more answers)."""
    cfg = settings()
    prepare_database(cfg)

    async def go() -> bool:
        async with database(cfg) as db, db.transaction() as session:
            services = Engine(db, cfg).services(session)
            question = await Questions(session).get(question_id)
            if question is None:
                raise fail(f"Question {question_id} does not exist.")
            return await open_question.close_question(services, question, actor_id=None)

    if not run(go()):
        raise fail(f"Question {question_id} is not open.")
    err.print(f"Question {question_id} closed.")


@question_app.command("hide")
def question_hide(
    answer_id: int = typer.Argument(..., metavar="ANSWER_ID"),
    by: str = typer.Option(..., "--by", help="E-mail of the moderator hiding it."),
) -> None:
    """Hide an abusive answer: kept for the audit log, never shown or exported."""
    cfg = settings()
    prepare_database(cfg)

    async def go() -> bool:
        async with database(cfg) as db, db.transaction() as session:
            services = Engine(db, cfg).services(session)
            moderator = await person_with_role(services, by, {"moderator", "admin"}, "--by")
            assert moderator is not None
            questions = Questions(session)
            answer = await questions.get_answer(answer_id)
            if answer is None:
                raise fail(f"Answer {answer_id} does not exist.")
            hidden = await questions.hide(answer_id, moderator.id, services.now)
            if hidden:
                await services.audit(
                    "answer.hidden",
                    actor_id=moderator.id,
                    subject=f"answer:{answer_id}",
                    question=answer.question_id,
                    via="cli",
                )
            return hidden

    if not run(go()):
        raise fail(f"Answer {answer_id} was hidden already.")
    err.print(f"Answer {answer_id} hidden.")
