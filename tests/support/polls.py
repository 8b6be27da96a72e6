"""Create polls directly through the repositories, for tests."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.engine import Engine
from dialogs.poll import open_poll, vote_payload
from storage.people import Audience
from tests.support.org import Org


async def create_poll(
    engine: Engine,
    options: list[str],
    *,
    question: str = "Wat vind je ervan?",
    multiple: bool = False,
    anonymous: bool = False,
    hide_results: bool = False,
    audience: Audience | None = None,
    closes_in: timedelta | None = None,
    open_now: bool = True,
) -> tuple[int, list[int]]:
    """(poll id, option ids in order)."""
    async with engine.db.transaction() as session:
        services = engine.services(session)
        poll = await services.polls.create(
            question=question,
            options=options,
            multiple=multiple,
            anonymous=anonymous,
            hide_results=hide_results,
            audience=audience or Audience(),
            opens_at=services.now,
            closes_at=services.now + closes_in if closes_in else None,
            created_by=None,
        )
        if open_now:
            await open_poll(services, poll)
        option_ids = [o.id for o in await services.polls.options(poll.id)]
        return poll.id, option_ids


async def everyone_votes_at_once(engine: Engine, people: int) -> None:
    """`people` employees, a poll, and all their button presses handled concurrently; each
    one counted once, none refused."""
    org = await Org.create(engine, employees=people)
    poll_id, options = await create_poll(engine, ["A", "B"])
    events = [
        org.incoming(f"emp{i}", choice=vote_payload(poll_id, options[i % 2])) for i in range(people)
    ]
    outcomes = await asyncio.gather(*(engine.handle(e) for e in events))
    assert not any(o.duplicate or o.refused for o in outcomes)
    assert all(o.replies == 1 for o in outcomes)
