"""Each rule of the broadcast use case once, against the use case itself (both backends);
the chat, dashboard and CLI tests show that their paths reach it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from typing import TypeVar

import pytest
from sqlalchemy import select

from bot.conversation import Services
from bot.engine import Engine
from bot.messages import Outgoing
from bot.usecases import Refused
from bot.usecases import broadcasts as uc
from storage.broadcasts import Broadcasts, CancelOutcome
from storage.models import AuditEntry, ChannelAccount, OutboxMessage, Person
from storage.people import Audience
from tests.support.broadcasts import recipients
from tests.support.org import Org

T = TypeVar("T")
NEWS = uc.Draft(text="  Nieuws!  ")


@asynccontextmanager
async def services_of(engine: Engine) -> AsyncIterator[Services]:
    async with engine.db.transaction() as session:
        yield engine.services(session)


async def run(engine: Engine, fn: Callable[[Services], Awaitable[T]]) -> T:
    async with services_of(engine) as services:
        return await fn(services)


async def refused(engine: Engine, fn: Callable[[Services], Awaitable[object]]) -> Refused:
    with pytest.raises(Refused) as caught:
        await run(engine, fn)
    return caught.value


def actor(org: Org, key: str = "olga") -> uc.Actor:
    return uc.Actor(org.people[key].id, frozenset(org.roles[key]))


async def outbox(engine: Engine) -> list[OutboxMessage]:
    async with engine.db.transaction(read_only=True) as session:
        return list((await session.execute(select(OutboxMessage))).scalars())


async def test_text_length(engine: Engine, org: Org) -> None:
    for text, length in (("   ", 0), ("x" * (uc.MAX_TEXT + 1), uc.MAX_TEXT + 1)):
        draft = replace(NEWS, text=text)
        found = await refused(engine, lambda s, d=draft: uc.create(s, d, actor(org)))
        assert (found.key, found.params) == (uc.TEXT_LENGTH, {"max": uc.MAX_TEXT, "length": length})
    saved = await run(engine, lambda s: uc.create(s, NEWS, actor(org)))
    async with engine.db.transaction(read_only=True) as session:
        stored = await Broadcasts(session).get(saved.id)
    assert stored is not None and stored.text == "Nieuws!"  # without the white space


async def test_unknown_channel(engine: Engine, org: Org) -> None:
    draft = replace(NEWS, channel="telex")
    assert (
        await refused(engine, lambda s: uc.create(s, draft, actor(org)))
    ).key == uc.UNKNOWN_CHANNEL


async def test_time_in_the_past_and_a_moment_ago(engine: Engine, org: Org) -> None:
    now = engine.clock()
    past = replace(NEWS, at=now - uc.PAST_GRACE - timedelta(minutes=1))
    assert (await refused(engine, lambda s: uc.create(s, past, actor(org)))).key == uc.IN_THE_PAST
    moment_ago = replace(NEWS, at=now - timedelta(seconds=20))
    saved = await run(engine, lambda s: uc.create(s, moment_ago, actor(org)))
    assert saved.started and saved.scheduled_at >= now  # a moment ago means now


async def test_an_audience_that_reaches_nobody_is_refused(engine: Engine, org: Org) -> None:
    for draft in (
        replace(NEWS, audience=Audience(department="Nergens")),
        replace(NEWS, channel="slack"),  # nobody has a Slack account
    ):
        found = await refused(engine, lambda s, d=draft: uc.create(s, d, actor(org)))
        assert found.key == uc.NOBODY
    assert await outbox(engine) == []


async def test_due_now_starts_queues_and_says_wake(engine: Engine, org: Org) -> None:
    saved = await run(engine, lambda s: uc.create(s, NEWS, actor(org)))
    assert saved.started and saved.queued == len(org.people) and saved.wake_worker
    later = replace(NEWS, at=engine.clock() + timedelta(days=1))
    scheduled = await run(engine, lambda s: uc.create(s, later, actor(org)))
    assert not scheduled.started and not scheduled.wake_worker
    async with engine.db.transaction(read_only=True) as session:
        stmt = select(AuditEntry.action).where(AuditEntry.subject == f"broadcast:{saved.id}")
        actions = set((await session.execute(stmt)).scalars())
    assert {"broadcast.created", "broadcast.started"} <= actions


async def test_only_the_author_or_an_admin_edits_or_cancels(engine: Engine, org: Org) -> None:
    later = replace(NEWS, at=engine.clock() + timedelta(days=1))
    saved = await run(engine, lambda s: uc.create(s, later, actor(org)))
    other = uc.Actor(org.people["emp0"].id)
    for change in (
        lambda s: uc.edit(s, saved.id, NEWS, other),
        lambda s: uc.cancel(s, saved.id, other),
    ):
        assert (await refused(engine, change)).key == uc.NOT_YOURS
    admin = uc.Actor(org.people["emp0"].id, frozenset({"admin"}))
    edited = await run(engine, lambda s: uc.edit(s, saved.id, replace(later, text="Anders"), admin))
    assert not edited.started
    outcome = await run(engine, lambda s: uc.cancel(s, saved.id, actor(org)))
    assert outcome == (CancelOutcome.CANCELLED, 0)
    again = await run(engine, lambda s: uc.cancel(s, saved.id, uc.Actor(None, via="cli")))
    assert again == (CancelOutcome.ALREADY_CANCELLED, 0)


async def test_no_edit_once_it_started(engine: Engine, org: Org) -> None:
    saved = await run(engine, lambda s: uc.create(s, NEWS, actor(org)))
    found = await refused(engine, lambda s: uc.edit(s, saved.id, NEWS, actor(org)))
    assert (found.key, found.params) == (uc.TOO_LATE, {"id": saved.id})


async def test_a_photo_is_refused_without_a_store_or_when_unreadable(
    engine: Engine, org: Org
) -> None:
    async with services_of(engine) as services:
        with pytest.raises(Refused) as caught:
            await uc.keep_photo(replace(services, media_store=None), b"x")
        assert caught.value.key == uc.NO_PHOTOS
        if services.media_store is not None:
            with pytest.raises(Refused) as caught:
                await uc.keep_photo(services, b"no photo")
            assert caught.value.key.startswith("photo.")


async def test_a_mailbox_of_somebody_else_is_never_used(engine: Engine, org: Org) -> None:
    """storage.reach, for notify_many and for a broadcast alike: a person without accounts
    whose e-mail is already somebody else's mailbox is unreachable, not sent to that one."""
    async with services_of(engine) as services:
        newcomer = Person(name="Nieuw", email="EMP0@example.org", department="Nieuw")
        services.session.add(newcomer)
        await services.session.flush()
        await services.accounts.link(org.people["emp0"].id, "console", "emp0@example.org")
        news = Outgoing(text="Hallo")
        assert await services.notify_many([newcomer.id], lambda p: news) == 0
        newcomer_id = newcomer.id
    draft = replace(NEWS, audience=Audience(department="Nieuw"))
    saved = await run(engine, lambda s: uc.create(s, draft, actor(org)))
    assert saved.queued == 0
    assert [(r.person_id, r.state) for r in await recipients(engine, saved.id)] == [
        (newcomer_id, "unreachable")
    ]
    async with engine.db.transaction(read_only=True) as session:
        stmt = select(ChannelAccount).where(ChannelAccount.person_id == newcomer_id)
        assert list((await session.execute(stmt)).scalars()) == []
