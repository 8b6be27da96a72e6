"""`achterban broadcast …`: send (now or at a time), status (a progress bar that follows the
sending), cancel, list, replies.

`send` and `cancel` are the use case's commands (bot/usecases/broadcasts.py), with the rules
the chat and the dashboard have; here only the options are read and its refusals worded.
`send` queues the recipients itself, batch after batch, each in its own transaction, so a
broadcast to 50,000 people is queued in a few seconds without one giant transaction; the
workers (`achterban worker` / `serve`) deliver. A broadcast with --at is queued by the
scheduler tick when it is due.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bot.cli.common import (
    Format,
    database,
    err,
    existing,
    fail,
    iso_time,
    person_with_role,
    prepare_database,
    print_created,
    print_json,
    print_records,
    print_rows,
    run,
    settings,
    with_services,
)
from bot.config import Settings
from bot.conversation import Services
from bot.i18n import t
from bot.usecases import Refused, broadcasts
from bot.usecases.broadcasts import MAX_TEXT, TICK_BATCHES, queue_batches
from storage.broadcast_responses import Responses
from storage.broadcast_status import Status, broadcast_status
from storage.broadcasts import CHANNELS, SENDING_STATUS, Broadcasts, CancelOutcome
from storage.people import Audience

broadcast_app = typer.Typer(help="Broadcasts (nieuws / updates).", no_args_is_help=True)
# The use case's refusals, worded for the command line.
REFUSED = {
    broadcasts.TEXT_LENGTH: f"--text must be 1..{MAX_TEXT} characters",
    broadcasts.UNKNOWN_CHANNEL: f"--channel must be one of {', '.join(CHANNELS)}",
    broadcasts.IN_THE_PAST: "--at is in the past",
    broadcasts.NOBODY: "nobody on the roster matches --audience / --channel",
}


def refusal(refused: Refused) -> typer.Exit:
    """Exit 2 with the refusal in words: ours, else the catalogue's (a photo's, in English)."""
    words = REFUSED.get(refused.key) or f"--image: {t('en', refused.key, **refused.params)}"
    return fail(words, 2)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise fail(f"--image: cannot read {path}: {exc.strerror}", 2) from exc


async def queue_all(cfg: Settings, broadcast_id: int) -> int:
    """Queue every batch of a sending broadcast, one transaction per tick's worth."""
    from bot.app import new_engine

    queued = 0
    async with database(cfg) as db:
        engine = new_engine(db, cfg)
        while True:
            async with db.transaction() as session:
                services = engine.services(session)
                queued += await queue_batches(services, broadcast_id, TICK_BATCHES)
                broadcast = await Broadcasts(session).get(broadcast_id)
                if broadcast is None or broadcast.status != SENDING_STATUS:
                    return queued


@broadcast_app.command("send")
def send(
    text: str = typer.Option(..., "--text"),
    text_en: str | None = typer.Option(
        None, "--text-en", help="The message for English-speaking colleagues (optional)."
    ),
    image: Path | None = typer.Option(None, "--image", help="A photo; faces are blurred."),
    audience: str | None = typer.Option(
        None, "--audience", help="department=NAME or location=NAME"
    ),
    channel: str | None = typer.Option(None, "--channel", help="|".join(CHANNELS)),
    at: str | None = typer.Option(
        None, "--at", help="ISO-8601 or words ('morgen 17:00'); Europe/Amsterdam if no offset."
    ),
    acknowledge: bool = typer.Option(False, "--acknowledge", help="Add a 'gelezen' button."),
    remind_after: float = typer.Option(
        24.0, "--remind-after", min=0.1, help="Hours until the one reminder (--acknowledge)."
    ),
    created_by: str | None = typer.Option(None, "--created-by", help="E-mail of an OR member."),
    fmt: Format | None = typer.Option(None, "--format", help='json prints {"id": …}'),
) -> None:
    """Send a broadcast now, or at --at."""
    cfg = settings()
    try:
        segment = Audience.parse(audience)
    except ValueError as exc:
        raise fail(str(exc), 2) from exc
    draft = broadcasts.Draft(
        text=text,
        text_en=text_en,
        audience=segment,
        channel=channel,
        at=iso_time(at, ZoneInfo(cfg.timezone), "--at"),
        acknowledge=acknowledge,
        remind_after=timedelta(hours=remind_after),
    )
    photo = _read(image) if image is not None else None
    saved = with_services(lambda services: _create(services, draft, photo, created_by), cfg=cfg)
    # The rest is queued batch by batch, each in a transaction of its own.
    queued = run(queue_all(cfg, saved.id)) if saved.started else 0
    print_created(fmt, {"id": saved.id})
    if saved.started:
        err.print(f"Broadcast {saved.id}: {queued} messages queued for delivery.")
    else:
        err.print(f"Broadcast {saved.id} scheduled for {saved.scheduled_at:%Y-%m-%d %H:%M %Z}.")


async def _create(
    services: Services, draft: broadcasts.Draft, photo: bytes | None, created_by: str | None
) -> broadcasts.Saved:
    """The use case's create, as --created-by (or the operator); nothing queued yet."""
    creator = await person_with_role(
        services, created_by, {"or_member", "admin"}, "--created-by",
        refusal="is not an OR member",
    )  # fmt: skip
    actor = broadcasts.Actor(creator.id if creator else None, via="cli")
    try:
        if photo is not None:
            image_id, _faces = await broadcasts.keep_photo(services, photo)
            draft = replace(draft, image_id=image_id)
        return await broadcasts.create(services, draft, actor, batches=0)
    except Refused as refused:
        raise refusal(refused) from None


async def _status(cfg: Settings, broadcast_id: int) -> Status:
    async with database(cfg) as db, db.transaction(read_only=True) as session:
        found = await broadcast_status(session, broadcast_id)
    return existing(found, f"Broadcast {broadcast_id}")


@broadcast_app.command("status")
def status(
    broadcast_id: int = typer.Argument(..., metavar="ID"),
    fmt: Format | None = typer.Option(None, "--format", help="json: one document, no bar"),
    timeout: float = typer.Option(600.0, "--timeout", help="Stop following after SECONDS."),
    interval: float = typer.Option(1.0, "--interval", min=0.05, help="Seconds between looks."),
) -> None:
    """How far broadcast ID got; without --format a progress bar follows it until done."""
    if fmt is Format.json:
        found = with_services(
            lambda services: broadcast_status(services.session, broadcast_id), read_only=True
        )
        print_json(existing(found, f"Broadcast {broadcast_id}").as_dict())
        return
    cfg = settings()
    prepare_database(cfg)
    found = run(_follow(cfg, broadcast_id, timeout, interval))
    rows = [[k, v] for k, v in found.as_dict().items() if not isinstance(v, dict)]
    rows += [[f"feedback {k}", v] for k, v in found.as_dict()["feedback"].items()]
    rows += [[f"unreachable: {k}", v] for k, v in found.unreachable_reasons.items()]
    print_rows(fmt or Format.table, ["figure", "value"], rows, title=f"Broadcast {broadcast_id}")
    if not found.done:
        err.print(f"Still going after {timeout:g} s: {found.queued} messages waiting.")
        raise typer.Exit(1)


async def _follow(cfg: Settings, broadcast_id: int, seconds: float, interval: float) -> Status:
    deadline = time.monotonic() + seconds
    found = await _status(cfg, broadcast_id)
    columns = (
        TextColumn("[bold]broadcast {task.fields[id]}[/bold] {task.fields[state]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("sent {task.fields[sent]} · failed {task.fields[failed]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task("send", total=None, id=broadcast_id, **_fields(found))
        while True:
            total = max(found.recipients, found.audience_size) or None
            progress.update(task, total=total, completed=found.processed, **_fields(found))
            if found.done or time.monotonic() >= deadline:
                return found
            await asyncio.sleep(min(interval, max(0.0, deadline - time.monotonic())))
            found = await _status(cfg, broadcast_id)


def _fields(found: Status) -> dict[str, Any]:
    return {"state": found.status, "sent": found.sent, "failed": found.failed}


@broadcast_app.command("cancel")
def cancel(broadcast_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Cancel broadcast ID: messages not sent yet are withdrawn."""

    async def go(services: Services) -> tuple[CancelOutcome, int]:
        return await broadcasts.cancel(services, broadcast_id, broadcasts.Actor(None, via="cli"))

    outcome, withdrawn = with_services(go)
    messages = {
        CancelOutcome.NOT_FOUND: f"Broadcast {broadcast_id} does not exist.",
        CancelOutcome.ALREADY_CANCELLED: f"Broadcast {broadcast_id} was already cancelled.",
        CancelOutcome.ALREADY_SENT: f"Broadcast {broadcast_id} has been sent completely.",
    }
    if outcome is not CancelOutcome.CANCELLED:
        raise fail(messages[outcome])
    err.print(f"Broadcast {broadcast_id} cancelled; {withdrawn} unsent messages withdrawn.")


@broadcast_app.command("list")
def list_broadcasts(fmt: Format = typer.Option(Format.table, "--format")) -> None:
    """The 50 most recent broadcasts."""

    async def go(services: Services) -> list[dict[str, Any]]:
        return [
            {
                "id": b.id,
                "status": b.status,
                "scheduled_at": b.scheduled_at.isoformat(),
                "audience": b.audience,
                "channel": b.channel,
                "acknowledge": b.acknowledge,
                "text": b.text if fmt is Format.json else " ".join(b.text.split())[:60],
            }
            for b in await Broadcasts(services.session).recent(limit=50)
        ]

    header = ["id", "status", "scheduled_at", "audience", "channel", "text"]
    print_records(fmt, with_services(go, read_only=True), header, title="Broadcasts")


@broadcast_app.command("replies")
def replies(
    broadcast_id: int = typer.Argument(..., metavar="ID"),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """What people typed in answer to broadcast ID (replies to a broadcast carry names)."""

    async def go(services: Services) -> list[dict[str, Any]]:
        existing(await Broadcasts(services.session).get(broadcast_id), f"Broadcast {broadcast_id}")
        found = await Responses(services.session).replies(broadcast_id)
        ids = {r.person_id for r in found if r.person_id}
        people = {p.id: p for p in await services.people_by_ids(ids)}
        out = []
        for r in found:
            person = people.get(r.person_id or 0)
            out.append(
                {
                    "at": r.created_at.isoformat(),
                    "name": person.name if person else None,
                    "department": person.department if person else None,
                    "channel": r.channel,
                    "text": r.text,
                }
            )
        return out

    header = ["at", "name", "department", "channel", "text"]
    print_records(fmt, with_services(go, read_only=True), header, title="Replies")
