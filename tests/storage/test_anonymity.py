"""The anonymity guarantee: nothing in the database ties a person to an anonymous choice."""

from __future__ import annotations

from sqlalchemy import inspect, select

from bot.delivery import DeliveryWorker
from bot.engine import Engine
from bot.messages import SendResult
from dialogs.poll import vote_payload
from storage.models import AuditEntry, Ballot, OutboxMessage, Participation, PollOption
from tests.support.org import Org
from tests.support.polls import create_poll


def test_schema_has_no_link_between_person_and_option() -> None:
    participation = {c.name for c in inspect(Participation).columns}
    assert participation == {"poll_id", "person_id"}  # no option, no time
    option = {c.name for c in inspect(PollOption).columns}
    assert not {c for c in option if "person" in c or c.endswith("_at")}


class Sink:
    channel = "console"

    def render(self, outgoing):
        return outgoing.text

    async def send(self, recipient, rendered):
        return SendResult()

    async def fetch_media(self, ref):
        return b""


async def test_rows_after_anonymous_votes_hold_no_choice(
    engine: Engine, org: Org, settings
) -> None:
    poll_id, opts = await create_poll(engine, ["Geheim A", "Geheim B"], anonymous=True)
    await org.say("emp0", choice=vote_payload(poll_id, opts[1]))
    await org.say("emp2", "1")
    await DeliveryWorker(engine.db, settings, {"console": Sink()}).drain()
    async with engine.db.transaction(read_only=True) as session:
        assert (await session.execute(select(Ballot))).first() is None
        outbox = (await session.execute(select(OutboxMessage))).scalars().all()
        audit = (await session.execute(select(AuditEntry))).scalars().all()
    # Confirmations named the choice; once sent, their bodies are gone.
    assert all(row.status == "sent" and row.payload is None for row in outbox)
    for entry in audit:
        assert "Geheim" not in str(entry.details)
