"""`achterban poll follow-up ID` and `achterban question follow-up ID`: "Wat doet de OR
ermee?" from the command line, through bot/usecases/followups.py like the dashboard."""

from __future__ import annotations

import typer

from bot.cli.common import Format, err, fail, person_with_role, print_created, with_services
from bot.conversation import Services
from bot.i18n import t
from bot.usecases import Refused, broadcasts, followups

# Refusals about the options themselves exit with 2, like typer's own usage errors.
USAGE = frozenset({followups.TEXT_LENGTH, followups.OR_ONLY})
TEXT_HELP = "What the works council will do with the outcome (1..1000 characters)."
BY_HELP = "E-mail of the OR member who writes it (leave out: the operator)."
FORMAT_HELP = 'json prints {"id": broadcast id, "queued": …}'


def follow_up(kind: str, subject_id: int, text: str, by: str | None, fmt: Format | None) -> None:
    """Send the follow-up now; the broadcast's id goes to stdout, the rest to stderr. The
    subject (a question's themes) is read first, without holding the write lock."""

    async def read(services: Services) -> tuple[followups.Subject, broadcasts.Actor]:
        writer = await person_with_role(services, by, set(followups.WRITERS), "--by")
        actor = broadcasts.Actor(writer.id if writer else None, via="cli")
        try:
            return await followups.SUBJECTS[kind](services, subject_id), actor
        except Refused as refused:
            raise _failure(refused) from refused

    subject, actor = with_services(read, read_only=True)

    async def send(services: Services) -> followups.Sent:
        try:
            return await followups.send(services, subject, text, actor)
        except Refused as refused:
            raise _failure(refused) from refused

    sent = with_services(send)
    print_created(fmt, {"id": sent.broadcast_id, "queued": sent.queued})
    err.print(
        f"Follow-up sent as broadcast {sent.broadcast_id}: {sent.queued} messages queued now, "
        "the rest by the scheduler; reach with 'achterban broadcast status'."
    )


def _failure(refused: Refused) -> typer.Exit:
    """A use case's refusal as this command's error, in the catalogue's English words."""
    message = t("en", refused.key, **refused.params)
    return fail(message, 2 if refused.key in USAGE else 1)
