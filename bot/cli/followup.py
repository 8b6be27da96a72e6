"""`achterban poll follow-up ID` and `achterban question follow-up ID`: "Wat doet de OR
ermee?" from the command line, through bot/usecases/followups.py like the dashboard."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.cli.common import Format, err, fail, person_with_role, print_created, with_services
from bot.conversation import Services
from bot.i18n import t
from bot.usecases import Refused, broadcasts, followups

Send = Callable[[Services, int, str, broadcasts.Actor], Awaitable[followups.Sent]]
# Refusals about the options themselves exit with 2, like typer's own usage errors.
USAGE = frozenset({followups.TEXT_LENGTH, followups.OR_ONLY})
TEXT_HELP = "What the works council will do with the outcome (1..1000 characters)."
BY_HELP = "E-mail of the OR member who writes it (leave out: the operator)."
FORMAT_HELP = 'json prints {"id": broadcast id, "queued": …}'


def follow_up(send: Send, subject_id: int, text: str, by: str | None, fmt: Format | None) -> None:
    """Send the follow-up now; the broadcast's id goes to stdout, the rest to stderr."""

    async def go(services: Services) -> followups.Sent:
        writer = await person_with_role(services, by, set(followups.WRITERS), "--by")
        actor = broadcasts.Actor(writer.id if writer else None, via="cli")
        try:
            return await send(services, subject_id, text, actor)
        except Refused as refused:
            message = t("en", refused.key, **refused.params)
            raise fail(message, 2 if refused.key in USAGE else 1) from refused

    sent = with_services(go)
    print_created(fmt, {"id": sent.broadcast_id, "queued": sent.queued})
    err.print(
        f"Follow-up sent as broadcast {sent.broadcast_id}: {sent.queued} messages queued now, "
        "the rest by the scheduler; reach with 'achterban broadcast status'."
    )
