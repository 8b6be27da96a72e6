"""Broadcasts as employees receive them: feedback, "gelezen", replies, opt-out, scheduling,
cancelling, batches and reactions — through the engine and the real delivery worker."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.app import new_engine
from bot.engine import Engine
from bot.scheduler import Scheduler
from bot.usecases.broadcasts import broadcast_message
from storage.broadcast_models import Broadcast, BroadcastReply
from storage.broadcast_queue import expand
from storage.broadcast_responses import ReactionOutcome, Responses
from storage.broadcasts import Broadcasts
from storage.db import Database
from storage.models import OutboxMessage, Person
from storage.people import Audience
from storage.prompts import outbox_prompt
from tests.support.broadcasts import (
    START,
    Clock,
    create,
    deliver,
    outbox_rows,
    recipients,
    status,
)
from tests.support.org import Org
from tests.support.polls import create_poll


@pytest.fixture
def engine(db: Database, settings) -> Engine:  # type: ignore[no-untyped-def]
    return new_engine(db, settings, clock=Clock())


def clock(engine: Engine) -> Clock:
    assert isinstance(engine.clock, Clock)
    return engine.clock


async def test_everyone_gets_the_message_with_feedback_buttons(engine: Engine, org: Org) -> None:
    broadcast_id = await create(engine, "De kantine gaat verbouwen.", acknowledge=True)
    message = await org.last("emp0")
    assert "De kantine gaat verbouwen." in message.text
    assert message.purpose == "broadcast"
    assert [c.payload for c in message.choices] == [
        f"bc:{broadcast_id}:useful",
        f"bc:{broadcast_id}:not_useful",
        f"bc:{broadcast_id}:ack",
    ]
    assert (await org.last("emp1")).choices[0].label == "Useful"  # English
    found = await status(engine, broadcast_id)
    assert (found.status, found.recipients, found.queued) == ("sent", 10, 10)
    await deliver(engine)
    found = await status(engine, broadcast_id)
    assert (found.queued, found.sent, found.done) == (0, 10, True)


async def test_feedback_counts_once_per_person_and_can_change(engine: Engine, org: Org) -> None:
    broadcast_id = await create(engine)
    useful = f"bc:{broadcast_id}:useful"
    await org.say("emp0", choice=useful)
    assert "nuttig" in (await org.last("emp0")).text
    await org.say("emp0", choice=useful)
    assert "niets veranderd" in (await org.last("emp0")).text
    await org.say("emp2", "1")  # a typed number answers the latest prompt: the broadcast
    await org.say("emp4", "Nuttig")  # and so does a typed label
    await org.say("emp3", choice=f"bc:{broadcast_id}:not_useful")
    found = await status(engine, broadcast_id)
    assert (found.useful, found.not_useful) == (3, 1)
    await org.say("emp0", choice=f"bc:{broadcast_id}:not_useful")
    assert "aangepast" in (await org.last("emp0")).text
    found = await status(engine, broadcast_id)
    assert (found.useful, found.not_useful) == (2, 2)


async def test_bad_buttons_change_nothing(engine: Engine, org: Org) -> None:
    only_kantoor = await create(engine, audience=Audience(department="Kantoor"))
    await org.say("emp0", choice=f"bc:{only_kantoor}:useful")
    assert "niet aan jou gericht" in (await org.last("emp0")).text
    await org.say("emp0", choice="bc:999:useful")
    assert "bestaat niet" in (await org.last("emp0")).text
    await org.say("emp0", choice=f"bc:{only_kantoor}:ack")  # no "gelezen" on this one
    await org.say("emp0", choice="bc:x:useful")
    assert [m.text for m in (await org.outbox("emp0"))[-2:]] == [
        "Dat antwoord begrijp ik niet. Kies een van de knoppen of typ het nummer."
    ] * 2
    found = await status(engine, only_kantoor)
    assert (found.recipients, found.useful, found.acknowledged) == (2, 0, 0)


async def test_acknowledged_once_and_one_reminder_to_the_rest(engine: Engine, org: Org) -> None:
    broadcast_id = await create(engine, "Lees dit", acknowledge=True)
    await deliver(engine)
    await org.say("emp0", choice=f"bc:{broadcast_id}:ack")
    await org.say("emp0", choice=f"bc:{broadcast_id}:ack")
    assert "al laten weten" in (await org.last("emp0")).text
    await org.say("emp2", "gelezen")  # typed label of the button
    await org.say("emp4", "afmelden")
    await org.say("emp4", "ja")  # opting out is confirmed (dialogs/intents.py)
    assert (await status(engine, broadcast_id)).acknowledged == 2

    scheduler = Scheduler(engine)
    clock(engine).advance(hours=23)
    assert (await scheduler.tick()).jobs["broadcasts_remind"] == 0
    clock(engine).advance(hours=1)
    assert (await scheduler.tick()).jobs["broadcasts_remind"] == 7  # 10 - 2 read - 1 opted out
    reminder = await org.last("emp3")
    assert reminder.text.startswith("📣 Herinnering") and "Lees dit" in reminder.text
    assert not (await org.last("emp0")).text.startswith("📣")
    assert not (await org.last("emp4")).text.startswith("📣")
    assert (await scheduler.tick()).jobs["broadcasts_remind"] == 0
    assert (await scheduler.tick()).jobs["broadcasts_remind"] == 0
    await org.say("emp3", choice=f"bc:{broadcast_id}:ack")  # the reminder's button works
    assert (await status(engine, broadcast_id)).acknowledged == 3


async def test_reminders_wait_for_copies_still_on_their_way(engine: Engine, org: Org) -> None:
    broadcast_id = await create(engine, "Lees dit", acknowledge=True)
    scheduler = Scheduler(engine)
    clock(engine).advance(hours=25)
    assert (await scheduler.tick()).jobs["broadcasts_remind"] == 0  # nothing went out yet
    await deliver(engine)
    assert (await scheduler.tick()).jobs["broadcasts_remind"] == 10
    assert (await scheduler.tick()).jobs["broadcasts_remind"] == 0
    async with engine.db.transaction(read_only=True) as session:
        row = await session.get(Broadcast, broadcast_id)
    assert row is not None and row.reminder_sent_at is not None


async def test_start_with_more_words_answering_a_broadcast_is_a_reply(
    engine: Engine, org: Org
) -> None:
    broadcast_id = await create(engine)
    await org.say("emp2", "start de verbouwing al in mei?")
    assert "doorgegeven aan de OR" in (await org.last("emp2")).text
    await org.say("emp2", "start")
    assert "al" in (await org.last("emp2")).text  # "Je krijgt de nieuwsberichten … al."
    assert (await status(engine, broadcast_id)).replies == 1


async def test_a_typed_reply_is_collected(engine: Engine, org: Org) -> None:
    broadcast_id = await create(engine)
    await org.say("emp0", "Eindelijk! Wanneer begint het?")
    assert "doorgegeven aan de OR" in (await org.last("emp0")).text
    await org.say("emp0", "menu")  # a command is still a command
    assert "Hallo Emp0" in (await org.last("emp0")).text
    async with engine.db.transaction(read_only=True) as session:
        replies = await Responses(session).replies(broadcast_id)
    assert [(r.person_id, r.text) for r in replies] == [
        (org.people["emp0"].id, "Eindelijk! Wanneer begint het?")
    ]
    assert (await status(engine, broadcast_id)).replies == 1


async def test_no_reply_is_collected_for_a_cancelled_broadcast(engine: Engine, org: Org) -> None:
    broadcast_id = await create(engine)
    async with engine.db.transaction() as session:  # emp0's copy went out, then it was cancelled
        row = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.person_id == org.people["emp0"].id)
        )
        assert row is not None
        row.status = "sent"
    async with engine.db.transaction() as session:
        assert (await Broadcasts(session).cancel(broadcast_id, START))[1] == 9
    await org.say("emp0", "Wat vind ik ervan?")
    assert "begrijp ik niet" in (await org.last("emp0")).text
    async with engine.db.transaction(read_only=True) as session:
        count = await session.scalar(select(func.count()).select_from(BroadcastReply))
    assert count == 0


@pytest.mark.parametrize("word", ["afmelden", "uitschrijven", "geen nieuws meer aub"])
async def test_opt_out_is_honoured_and_polls_still_arrive(
    engine: Engine, org: Org, word: str
) -> None:
    await org.say("emp0", word)
    await org.say("emp0", "Ja, afmelden voor nieuws")
    assert "afgemeld" in (await org.last("emp0")).text
    await org.say("emp0", "afmelden")
    assert "al afgemeld" in (await org.last("emp0")).text
    first = await create(engine, "Eerste")
    assert not any("Eerste" in m.text for m in await org.outbox("emp0"))
    assert (await status(engine, first)).opted_out == 1
    await create_poll(engine, ["Ja", "Nee"])
    assert "Ja" in [c.label for c in (await org.last("emp0")).choices]
    await org.say("emp0", "aanmelden")
    assert "Welkom terug" in (await org.last("emp0")).text
    await create(engine, "Tweede")
    assert "Tweede" in (await org.last("emp0")).text


async def test_opting_out_withdraws_a_message_not_yet_sent(engine: Engine, org: Org) -> None:
    broadcast_id = await create(engine, "Nog niet weg")
    await org.say("emp0", "afmelden")
    await org.say("emp0", "ja")
    assert not any("Nog niet weg" in m.text for m in await org.outbox("emp0"))
    found = await status(engine, broadcast_id)
    assert (found.opted_out, found.queued) == (1, 9)


async def test_scheduled_broadcast_is_not_sent_early_and_is_sent_once(
    engine: Engine, org: Org
) -> None:
    broadcast_id = await create(engine, "Vanavond", at=START + timedelta(hours=10))
    scheduler = Scheduler(engine)
    clock(engine).advance(hours=9, minutes=59)
    await scheduler.tick()
    assert (await status(engine, broadcast_id)).status == "scheduled"
    assert await outbox_rows(engine) == []
    clock(engine).advance(minutes=1)
    reports = await asyncio.gather(*(Scheduler(engine).tick() for _ in range(4)))
    assert sum(r.jobs["broadcasts_send"] for r in reports) == 10
    await scheduler.tick()
    rows = await outbox_rows(engine)
    assert len(rows) == 10 and len({r.person_id for r in rows}) == 10
    assert (await status(engine, broadcast_id)).status == "sent"


async def test_cancel_stops_what_is_not_sent(engine: Engine, org: Org) -> None:
    olga = org.people["olga"].id
    later = await create(engine, "Later", at=START + timedelta(hours=1), created_by=olga)
    now = await create(engine, "Nu", created_by=olga)
    await org.say("mo", choice=f"bcm:{now}:cancel")
    assert "Dat kunnen alleen leden" in (await org.last("mo")).text
    # The worker sends the first three messages, then the OR cancels.
    async with engine.db.transaction() as session:
        rows = list(
            (await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars()
        )
        for row in rows[:3]:
            row.status, row.platform_message_id, row.payload = "sent", f"m{row.id}", None
    await org.say("olga", choice=f"bcm:{now}:cancel")
    assert "7 berichten" in (await org.last("olga")).text
    await org.say("olga", choice=f"bcm:{later}:cancel")
    await org.say("olga", choice=f"bcm:{now}:cancel")
    assert "al ingetrokken" in (await org.last("olga")).text
    assert len(await outbox_rows(engine)) == 3 + 1 + 3  # sent ones, answers to mo and olga
    found = await status(engine, now)
    assert (found.status, found.sent, found.cancelled, found.queued) == ("cancelled", 3, 7, 0)
    clock(engine).advance(hours=2)
    await Scheduler(engine).tick()
    assert (await status(engine, later)).recipients == 0
    sent_to = rows[0].person_id
    key = next(k for k, p in org.people.items() if p.id == sent_to)
    await org.say(key, choice=f"bc:{now}:useful")
    assert "ingetrokken" in (await org.last(key)).text
    assert (await status(engine, now)).useful == 0


async def test_queued_in_batches_without_duplicates(engine: Engine, org: Org) -> None:
    async with engine.db.transaction() as session:
        session.add_all(Person(name=f"P{i}", email=f"p{i}@example.org") for i in range(25))
    broadcast_id = await create(engine, send_now=False)
    batches = []
    for _ in range(5):
        async with engine.db.transaction() as session:
            services = engine.services(session)
            broadcasts = Broadcasts(session)
            await broadcasts.start(broadcast_id, services.now)
            locked = await broadcasts.lock_sending(broadcast_id)
            if locked is None:
                break
            batch = await expand(
                session,
                locked,
                lambda lang, b=locked: broadcast_message(b, lang),
                outbox_prompt,
                now=services.now,
                fallback_channel="console",
                limit=10,
            )
            batches.append((batch.queued, batch.finished))
    assert batches == [(10, False), (10, False), (10, False), (5, True)]
    rows = await outbox_rows(engine)
    assert len(rows) == 35 and len({r.person_id for r in rows}) == 35


async def test_concurrent_ticks_queue_everyone_once(engine: Engine, org: Org) -> None:
    async with engine.db.transaction() as session:
        session.add_all(Person(name=f"P{i}", email=f"p{i}@example.org") for i in range(1200))
    broadcast_id = await create(engine, send_now=False)
    for _ in range(3):
        await asyncio.gather(*(Scheduler(engine).tick() for _ in range(3)))
    rows = await outbox_rows(engine)
    assert len(rows) == 1210 and len({r.person_id for r in rows}) == 1210
    found = await status(engine, broadcast_id)
    assert (found.status, found.recipients, found.audience_size) == ("sent", 1210, 1210)


async def test_channel_filter_and_unreachable_people(engine: Engine, org: Org) -> None:
    async with engine.db.transaction() as session:
        services = engine.services(session)
        await services.accounts.link(org.people["emp0"].id, "slack", "U0")
        await services.accounts.link(org.people["emp2"].id, "slack", "U2")
        session.add(Person(name="Zonder kanaal", department="Productie"))
    on_slack = await create(engine, "Alleen Slack", channel="slack")
    assert [(r.channel, r.account) for r in await outbox_rows(engine)] == [
        ("slack", "U0"),
        ("slack", "U2"),
    ]
    productie = await create(engine, "Productie", audience=Audience(department="productie"))
    found = await status(engine, productie)
    assert (found.recipients, found.queued, found.unreachable) == (5, 4, 1)
    assert found.unreachable_reasons == {"no_channel": 1}
    assert (await status(engine, on_slack)).recipients == 2


async def test_reactions_count_once_per_person_and_reaction(engine: Engine, org: Org) -> None:
    broadcast_id = await create(engine)
    channels = await deliver(engine)
    assert len(channels["console"].sent) == 10
    rows = {r.person_id: r for r in await outbox_rows(engine)}
    emp0 = rows[org.people["emp0"].id]
    assert emp0.platform_message_id is not None

    async def react(account: str | None = None, added: bool = True, name: str = "tada") -> str:
        async with engine.db.transaction() as session:
            return await Responses(session).record_reaction(
                "console", emp0.platform_message_id or "", name,
                account=account, added=added, now=START,
            )  # fmt: skip

    assert await react() == ReactionOutcome.RECORDED
    assert await react(account="emp0@example.org") == ReactionOutcome.UNCHANGED
    assert await react(name="+1") == ReactionOutcome.RECORDED
    assert await react(account="emp2@example.org") == ReactionOutcome.IGNORED
    assert (await status(engine, broadcast_id)).reactions == 2
    assert await react(added=False) == ReactionOutcome.REMOVED
    assert await react(added=False) == ReactionOutcome.UNCHANGED
    assert (await status(engine, broadcast_id)).reactions == 1
    async with engine.db.transaction() as session:
        unknown = await Responses(session).record_reaction("slack", "D1:1.2", "x", now=START)
    assert unknown == ReactionOutcome.UNKNOWN


async def test_delivery_reports_are_counted(engine: Engine, org: Org) -> None:
    broadcast_id = await create(engine)
    await deliver(engine)
    async with engine.db.transaction() as session:
        rows = list(
            (await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars()
        )
        rows[0].delivery_status = "delivered"
        rows[1].delivery_status = "read"
        rows[2].status, rows[2].last_error = "failed", "blocked"
        rows[3].status = "failed"
        rows[3].last_error = "no Teams conversation reference: the app is not installed"
        rows[4].status = "failed"
        rows[4].last_error = "unreachable on Teams: not in the directory (404)"
    found = await status(engine, broadcast_id)
    assert (found.sent, found.delivered, found.read, found.failed) == (7, 2, 1, 1)
    assert found.unreachable_reasons == {"teams_not_installed": 1, "teams_not_in_directory": 1}


async def test_broadcast_row_keeps_what_was_asked(engine: Engine, org: Org) -> None:
    broadcast_id = await create(
        engine, "Tekst", audience=Audience(location="Tilburg"), acknowledge=True
    )
    async with engine.db.transaction(read_only=True) as session:
        row = await session.get(Broadcast, broadcast_id)
    assert row is not None
    assert (row.audience, row.remind_after_minutes, row.status) == (
        {"location": "Tilburg"},
        24 * 60,
        "sent",
    )
    assert [r.state for r in await recipients(engine, broadcast_id)] == ["queued"] * 5
