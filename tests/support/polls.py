"""Create polls through the use case, for tests."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.engine import Engine
from bot.usecases import polls as poll_cases
from bot.usecases.polls import PollDraft, vote_payload
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
    """(poll id, option ids in order), made by the use case as every other path makes it."""
    async with engine.db.transaction() as session:
        services = engine.services(session)
        draft = PollDraft(
            question=question,
            options=options,
            multiple=multiple,
            anonymous=anonymous,
            hide_results=hide_results,
            audience=audience or Audience(),
            # A poll not opened now opens at the scheduler's next tick.
            opens_at=None if open_now else services.now + timedelta(seconds=1),
            closes_at=services.now + closes_in if closes_in else None,
        )
        created = await poll_cases.create_poll(services, draft, actor_id=None)
        option_ids = [o.id for o in await services.polls.options(created.poll.id)]
        return created.poll.id, option_ids


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
