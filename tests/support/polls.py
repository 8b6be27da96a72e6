"""Create polls directly through the repositories, for tests."""

from __future__ import annotations

from datetime import timedelta

from bot.engine import Engine
from dialogs.poll import open_poll
from storage.people import Audience


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
