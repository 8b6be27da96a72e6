"""`achterban poll …`: create, results, close, nonvoters, list."""

from __future__ import annotations

from enum import StrEnum
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
from bot.usecases import polls as poll_cases
from bot.usecases.poll_repeat import MONTHLY, WEEKLY
from bot.usecases.polls import PollDraft, PollRefused
from storage.people import Audience
from storage.polls import CLOSED
from storage.vote_comments import VoteComments

poll_app = typer.Typer(help="Polls (peilingen).", no_args_is_help=True)


class Repeat(StrEnum):
    weekly = WEEKLY
    monthly = MONTHLY


@poll_app.command("create")
def poll_create(
    question: str = typer.Option(..., "--question"),
    option: list[str] = typer.Option(..., "--option", help="An answer option; 2 to 10 times."),
    question_en: str | None = typer.Option(
        None, "--question-en", help="The question for English-speaking colleagues (optional)."
    ),
    option_en: list[str] = typer.Option(
        [], "--option-en", help="English option labels: one per --option, same order, or none."
    ),
    multi: bool = typer.Option(False, "--multi", help="Allow several answers."),
    anonymous: bool = typer.Option(False, "--anonymous"),
    hide_results: bool = typer.Option(False, "--hide-results", help="Results only after closing."),
    closes: str | None = typer.Option(
        None, "--closes", help="ISO-8601 or words ('morgen 17:00'); Europe/Amsterdam if no offset."
    ),
    opens: str | None = typer.Option(
        None, "--opens", help="ISO-8601 or words ('morgen 17:00'); default now."
    ),
    audience: str | None = typer.Option(
        None, "--audience", help="department=NAME or location=NAME"
    ),
    created_by: str | None = typer.Option(None, "--created-by", help="E-mail of an OR member."),
    repeat: Repeat | None = typer.Option(
        None, "--repeat", help="Open a copy every week or month, at the first one's day and time."
    ),
    fmt: Format | None = typer.Option(None, "--format", help='json prints {"id": …}'),
) -> None:
    """Create a poll; it opens now (or at --opens) and is sent to its audience. With --repeat,
    a copy opens every week or month at the same local time (Europe/Amsterdam).

    Long because typer declares each option in the signature (twelve of them, the English
    texts included); the body only builds the draft and calls the use case."""
    cfg = settings()
    tz = ZoneInfo(cfg.timezone)
    try:
        segment = Audience.parse(audience)
    except ValueError as exc:
        raise fail(str(exc), 2) from exc
    draft = PollDraft(
        question=question,
        options=option,
        multiple=multi,
        anonymous=anonymous,
        hide_results=hide_results,
        audience=segment,
        opens_at=iso_time(opens, tz, "--opens"),
        closes_at=iso_time(closes, tz, "--closes"),
        repeat=repeat.value if repeat else None,
        question_en=question_en,
        options_en=option_en or None,
    )

    async def go(services: Services) -> tuple[int, int]:
        creator = await person_with_role(
            services,
            created_by,
            {"or_member", "admin"},
            "--created-by",
            refusal="is not an OR member",
        )
        try:
            created = await poll_cases.create_poll(
                services, draft, actor_id=creator.id if creator else None, via="cli"
            )
        except PollRefused as refused:
            raise fail(t("en", refused.key, **refused.params), 2) from None
        return created.poll.id, created.sent

    poll_id, sent = with_services(go, cfg=cfg)
    print_created(fmt, {"id": poll_id})
    err.print(
        f"Poll {poll_id} created; sent to {sent} people." if sent else f"Poll {poll_id} created."
    )


@poll_app.command("results")
def poll_results(
    poll_id: int = typer.Argument(..., metavar="ID"),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """Results of poll ID (counts per option, participants, audience size)."""

    async def go(services: Services) -> dict[str, object]:
        poll = existing(await services.polls.get(poll_id), f"Poll {poll_id}")
        tally = await services.polls.tally(poll)
        return {
            "id": poll.id,
            "question": poll.question,
            "status": poll.status,
            "closed": poll.status == CLOSED,
            "multiple": poll.multiple,
            "anonymous": poll.anonymous,
            "options": [
                {"position": o.position, "label": o.label, "count": o.count} for o in tally.options
            ],
            "participants": tally.participants,
            "audience_size": poll.audience_size,
            # Remarks typed with named votes, without names (never kept for anonymous polls).
            "comments": [
                {"text": c.text, "choices": list(c.choices)}
                for c in await VoteComments(services.session).for_poll(poll.id)
            ],
        }

    data = with_services(go, read_only=True)
    if fmt is Format.json:
        print_json(data)
        return
    rows = [[o["position"], o["label"], o["count"]] for o in data["options"]]  # type: ignore[attr-defined]
    print_rows(fmt, ["position", "label", "count"], rows, title=f"{data['id']}: {data['question']}")
    if fmt is Format.table:
        err.print(
            f"{data['participants']} of {data['audience_size']} took part; status {data['status']}."
        )
        for comment in data["comments"]:  # type: ignore[attr-defined]
            err.print(f"remark ({', '.join(comment['choices']) or '-'}): {comment['text']}")


@poll_app.command("close")
def poll_close(poll_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Close poll ID now and send the results to its audience."""

    async def go(services: Services) -> bool:
        poll = existing(await services.polls.get(poll_id), f"Poll {poll_id}")
        return await poll_cases.close_poll(services, poll)

    if not with_services(go):
        raise fail(f"Poll {poll_id} is not open.")
    err.print(f"Poll {poll_id} closed; results are on their way.")


@poll_app.command("nonvoters")
def poll_nonvoters(
    poll_id: int = typer.Argument(..., metavar="ID"),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """Who in the audience of named poll ID has not answered yet."""

    async def go(services: Services) -> list[dict[str, object]]:
        poll = existing(await services.polls.get(poll_id), f"Poll {poll_id}")
        if poll.anonymous:
            raise fail("Poll is anonymous: who did not answer is not shown.")
        ids = await services.people.audience_ids(Audience.from_dict(poll.audience))
        return [
            {"name": p.name, "email": p.email, "department": p.department}
            for p in await services.polls.nonvoters(poll, ids)
        ]

    people = with_services(go, read_only=True)
    header = ["name", "email", "department"]
    print_records(fmt, people, header, title=f"Not answered: {len(people)}")


@poll_app.command("list")
def poll_list(fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """The 50 most recent polls."""

    async def go(services: Services) -> list[dict[str, object]]:
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

    polls = with_services(go, read_only=True)
    print_records(fmt, polls, ["id", "question", "status", "anonymous", "closes_at"], title="Polls")


@poll_app.command("follow-up")
def poll_follow_up(
    poll_id: int = typer.Argument(..., metavar="ID"),
    text: str = typer.Option(..., "--text", help=followup.TEXT_HELP),
    by: str | None = typer.Option(None, "--by", help=followup.BY_HELP),
    fmt: Format | None = typer.Option(None, "--format", help=followup.FORMAT_HELP),
) -> None:
    """Wat doet de OR ermee? Send what the OR will do with closed poll ID's outcome to its
    audience, with the results, as a broadcast (reach and feedback measured)."""
    followup.follow_up("poll", poll_id, text, by, fmt)
