"""`achterban nominations …`: open, list, close, results, candidates.

For anonymous campaigns no output names a nominator, whatever the format.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import typer

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
from bot.usecases import Refused
from bot.usecases.nominations import (
    CLOSES,
    MAX,
    MAX_PER_PERSON,
    MAX_TITLE,
    TITLE,
    RoundDraft,
    close_round,
    open_round,
)
from storage.nominations import INTERESTED, Nominations

nominations_app = typer.Typer(help="OR nomination campaigns.", no_args_is_help=True)
# The use case's refusals in the words of this command's options.
REFUSED = {
    TITLE: f"--title must be 1..{MAX_TITLE} characters",
    CLOSES: "--closes must be in the future",
    MAX: f"--max-per-person must be 1..{MAX_PER_PERSON}",
}


@nominations_app.command("open")
def nominations_open(
    title: str = typer.Option(..., "--title"),
    closes: str = typer.Option(
        ..., "--closes", help="ISO-8601 or words ('morgen 17:00'); local time if no offset."
    ),
    max_per_person: int | None = typer.Option(
        None, "--max-per-person", help=f"1..{MAX_PER_PERSON}; none: no maximum."
    ),
    anonymous: bool = typer.Option(False, "--anonymous", help="Never show who nominated whom."),
    created_by: str | None = typer.Option(None, "--created-by", help="E-mail of an OR member."),
    fmt: Format | None = typer.Option(None, "--format", help='json prints {"id": …}'),
) -> None:
    """Open a nomination campaign and announce it to everyone."""
    cfg = settings()
    closes_at = iso_time(closes, ZoneInfo(cfg.timezone), "--closes")
    draft = RoundDraft(title, closes_at, anonymous, max_per_person)

    async def go(services: Services) -> tuple[int, int]:
        creator = await person_with_role(
            services, created_by, {"or_member", "admin"}, "--created-by"
        )
        try:
            opened = await open_round(services, draft, actor_id=creator.id if creator else None)
        except Refused as refused:
            raise fail(REFUSED[str(refused.params["field"])], 2) from refused
        return opened.campaign.id, opened.queued

    campaign_id, sent = with_services(go, cfg=cfg)
    print_created(fmt, {"id": campaign_id, "sent": sent})
    err.print(f"Nomination campaign {campaign_id} opened; announced to {sent} people.")


@nominations_app.command("list")
def nominations_list(fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """The 50 most recent campaigns."""

    async def go(services: Services) -> list[dict[str, object]]:
        nominations = Nominations(services.session)
        return [
            {
                "id": c.id,
                "title": c.title,
                "status": c.status,
                "anonymous": c.anonymous,
                "max_per_person": c.max_per_person,
                "closes_at": c.closes_at.isoformat(),
                "nominations": await nominations.count(c.id),
            }
            for c in await nominations.recent()
        ]

    found = with_services(go, read_only=True)
    header = ["id", "title", "status", "anonymous", "max_per_person", "closes_at", "nominations"]
    print_records(fmt, found, header, title="Nomination campaigns")


@nominations_app.command("close")
def nominations_close(campaign_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Close campaign ID now: the OR gets the ranked list, nominees their invitation."""

    async def go(services: Services) -> bool:
        try:
            return (await close_round(services, campaign_id, actor_id=None)).closed
        except Refused as refused:
            raise fail(f"Campaign {campaign_id} does not exist.") from refused

    if not with_services(go):
        raise fail(f"Campaign {campaign_id} is not open.")
    err.print(f"Campaign {campaign_id} closed; results and invitations are on their way.")


def _load(campaign_id: int) -> dict[str, object]:
    async def go(services: Services) -> dict[str, object]:
        nominations = Nominations(services.session)
        campaign = existing(await nominations.get(campaign_id), f"Campaign {campaign_id}")
        ranked = await nominations.ranked(campaign)
        return {
            "id": campaign.id,
            "title": campaign.title,
            "status": campaign.status,
            "anonymous": campaign.anonymous,
            "nominees": [
                {
                    "rank": rank,
                    "name": n.name,
                    "department": n.department,
                    "nominations": n.count,
                    "self_nominated": n.self_nominated,
                    "response": n.response,
                    # Named campaigns only: ranked() never returns names otherwise.
                    "nominated_by": n.nominators,
                    "reasons": [reason for _by, reason in n.reasons],
                }
                for rank, n in enumerate(ranked, start=1)
            ],
        }

    return with_services(go, read_only=True)


@nominations_app.command("results")
def nominations_results(
    campaign_id: int = typer.Argument(..., metavar="ID"),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """The ranked nominees of campaign ID, with their answers once invited."""
    data = _load(campaign_id)
    if fmt is Format.json:
        print_json(data)
        return
    nominees: list[dict[str, object]] = data["nominees"]  # type: ignore[assignment]
    header = ["rank", "name", "department", "nominations", "self_nominated", "response"]
    if not data["anonymous"]:
        header.append("nominated_by")
    rows = [[", ".join(v) if isinstance(v := n[h], list) else v for h in header] for n in nominees]
    print_rows(fmt, header, rows, title=f"{data['id']}: {data['title']} ({data['status']})")


@nominations_app.command("candidates")
def nominations_candidates(
    campaign_id: int = typer.Argument(..., metavar="ID"),
    fmt: Format = typer.Option(Format.csv, "--format"),
) -> None:
    """The nominees who said they are interested: the candidate list for the election."""
    data = _load(campaign_id)
    nominees: list[dict[str, object]] = data["nominees"]  # type: ignore[assignment]
    accepted = [
        {"name": n["name"], "department": n["department"], "nominations": n["nominations"]}
        for n in nominees
        if n["response"] == INTERESTED
    ]
    print_records(fmt, accepted, ["name", "department", "nominations"], title="Candidates")
