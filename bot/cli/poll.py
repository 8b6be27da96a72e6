"""`achterban poll …`: create, results, close, nonvoters, list."""

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
from dialogs import poll as poll_jobs
from dialogs.poll_create import MAX_OPTION, MAX_OPTIONS, MAX_QUESTION, MIN_OPTIONS
from storage.people import Audience
from storage.polls import CLOSED

poll_app = typer.Typer(help="Polls (peilingen).", no_args_is_help=True)


def _when(value: str | None, tz: ZoneInfo, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise fail(f"{name}: not an ISO-8601 time: {value!r}", 2) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


@poll_app.command("create")
def poll_create(
    question: str = typer.Option(..., "--question"),
    option: list[str] = typer.Option(..., "--option", help="An answer option; 2 to 10 times."),
    multi: bool = typer.Option(False, "--multi", help="Allow several answers."),
    anonymous: bool = typer.Option(False, "--anonymous"),
    hide_results: bool = typer.Option(False, "--hide-results", help="Results only after closing."),
    closes: str | None = typer.Option(
        None, "--closes", help="ISO-8601; Europe/Amsterdam if no offset."
    ),
    opens: str | None = typer.Option(None, "--opens", help="ISO-8601; default now."),
    audience: str | None = typer.Option(
        None, "--audience", help="department=NAME or location=NAME"
    ),
    created_by: str | None = typer.Option(None, "--created-by", help="E-mail of an OR member."),
    fmt: Format | None = typer.Option(None, "--format", help='json prints {"id": …}'),
) -> None:
    """Create a poll; it opens now (or at --opens) and is sent to its audience."""
    cfg = settings()
    tz = ZoneInfo(cfg.timezone)
    options = [o.strip() for o in option]
    if not question.strip() or len(question) > MAX_QUESTION:
        raise fail(f"--question must be 1..{MAX_QUESTION} characters", 2)
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        raise fail(f"a poll needs {MIN_OPTIONS} to {MAX_OPTIONS} --option values", 2)
    if any(not o or len(o) > MAX_OPTION for o in options):
        raise fail(f"each --option must be 1..{MAX_OPTION} characters", 2)
    if len({o.casefold() for o in options}) != len(options):
        raise fail("--option values must differ", 2)
    try:
        segment = Audience.parse(audience)
    except ValueError as exc:
        raise fail(str(exc), 2) from exc
    closes_at, opens_at = _when(closes, tz, "--closes"), _when(opens, tz, "--opens")
    prepare_database(cfg)

    async def go() -> tuple[int, int]:
        async with database(cfg) as db:
            engine = Engine(db, cfg)
            async with db.transaction() as session:
                services = engine.services(session)
                start = opens_at or services.now
                if closes_at is not None and closes_at <= max(start, services.now):
                    raise fail("--closes must be in the future (and after --opens)", 2)
                creator = None
                if created_by:
                    creator = await services.people.by_email(created_by)
                    if creator is None:
                        raise fail(f"--created-by: no person with e-mail {created_by}", 2)
                    if not await services.people.roles(creator.id) & {"or_member", "admin"}:
                        raise fail(f"--created-by: {created_by} is not an OR member", 2)
                if segment.to_dict() and not await services.people.audience_ids(segment):
                    raise fail(f"--audience {audience}: nobody on the roster matches", 2)
                poll = await services.polls.create(
                    question=question.strip(),
                    options=options,
                    multiple=multi,
                    anonymous=anonymous,
                    hide_results=hide_results,
                    audience=segment,
                    opens_at=start,
                    closes_at=closes_at,
                    created_by=creator.id if creator else None,
                )
                await services.audit(
                    "poll.created", actor_id=poll.created_by, subject=f"poll:{poll.id}", via="cli"
                )
                sent = 0
                if start <= services.now:
                    sent = await poll_jobs.open_poll(services, poll, actor_id=poll.created_by)
                return poll.id, sent

    poll_id, sent = run(go())
    if fmt is Format.json:
        print_json({"id": poll_id})
    else:
        typer.echo(poll_id)
    err.print(
        f"Poll {poll_id} created; sent to {sent} people." if sent else f"Poll {poll_id} created."
    )


@poll_app.command("results")
def poll_results(
    poll_id: int = typer.Argument(..., metavar="ID"),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """Results of poll ID (counts per option, participants, audience size)."""
    cfg = settings()
    prepare_database(cfg)

    async def go() -> dict[str, object]:
        async with database(cfg) as db, db.transaction(read_only=True) as session:
            services = Engine(db, cfg).services(session)
            poll = await services.polls.get(poll_id)
            if poll is None:
                raise fail(f"Poll {poll_id} does not exist.")
            tally = await services.polls.tally(poll)
            return {
                "id": poll.id,
                "question": poll.question,
                "status": poll.status,
                "closed": poll.status == CLOSED,
                "multiple": poll.multiple,
                "anonymous": poll.anonymous,
                "options": [
                    {"position": o.position, "label": o.label, "count": o.count}
                    for o in tally.options
                ],
                "participants": tally.participants,
                "audience_size": poll.audience_size,
            }

    data = run(go())
    if fmt is Format.json:
        print_json(data)
        return
    rows = [[o["position"], o["label"], o["count"]] for o in data["options"]]  # type: ignore[attr-defined]
    print_rows(fmt, ["position", "label", "count"], rows, title=f"{data['id']}: {data['question']}")
    if fmt is Format.table:
        err.print(
            f"{data['participants']} of {data['audience_size']} took part; status {data['status']}."
        )


@poll_app.command("close")
def poll_close(poll_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Close poll ID now and send the results to its audience."""
    cfg = settings()
    prepare_database(cfg)

    async def go() -> bool:
        async with database(cfg) as db, db.transaction() as session:
            services = Engine(db, cfg).services(session)
            poll = await services.polls.get(poll_id)
            if poll is None:
                raise fail(f"Poll {poll_id} does not exist.")
            return await poll_jobs.close_poll(services, poll)

    if not run(go()):
        raise fail(f"Poll {poll_id} is not open.")
    err.print(f"Poll {poll_id} closed; results are on their way.")


@poll_app.command("nonvoters")
def poll_nonvoters(
    poll_id: int = typer.Argument(..., metavar="ID"),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """Who in the audience of named poll ID has not answered yet."""
    cfg = settings()
    prepare_database(cfg)

    async def go() -> list[dict[str, object]]:
        async with database(cfg) as db, db.transaction(read_only=True) as session:
            services = Engine(db, cfg).services(session)
            poll = await services.polls.get(poll_id)
            if poll is None:
                raise fail(f"Poll {poll_id} does not exist.")
            if poll.anonymous:
                raise fail("Poll is anonymous: who did not answer is not shown.")
            ids = await services.people.audience_ids(Audience.from_dict(poll.audience))
            return [
                {"name": p.name, "email": p.email, "department": p.department}
                for p in await services.polls.nonvoters(poll, ids)
            ]

    people = run(go())
    if fmt is Format.json:
        print_json(people)
        return
    rows = [[p["name"], p["email"], p["department"]] for p in people]
    print_rows(fmt, ["name", "email", "department"], rows, title=f"Not answered: {len(rows)}")


@poll_app.command("list")
def poll_list(fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """The 50 most recent polls."""
    cfg = settings()
    prepare_database(cfg)

    async def go() -> list[dict[str, object]]:
        async with database(cfg) as db, db.transaction(read_only=True) as session:
            services = Engine(db, cfg).services(session)
            return [
                {
                    "id": p.id,
                    "question": p.question,
                    "status": p.status,
                    "anonymous": p.anonymous,
                    "closes_at": p.closes_at.isoformat() if p.closes_at else None,
                }
                for p in await services.polls.recent(limit=50)
            ]

    polls = run(go())
    if fmt is Format.json:
        print_json(polls)
        return
    header = ["id", "question", "status", "anonymous", "closes_at"]
    print_rows(fmt, header, [[p[h] for h in header] for p in polls], title="Polls")
