"""Open nomination rounds for tests through the use case, as the chat, dashboard and CLI do."""

from __future__ import annotations

from datetime import timedelta

from bot.engine import Engine
from bot.usecases.nominations import RoundDraft, open_round


async def open_campaign(
    engine: Engine,
    *,
    title: str = "OR-verkiezingen 2027",
    anonymous: bool = False,
    max_per_person: int | None = None,
    closes_in: timedelta = timedelta(days=7),
) -> int:
    """A round opened and announced to everyone now (the engine's clock); its id."""
    async with engine.db.transaction() as session:
        services = engine.services(session)
        draft = RoundDraft(title, services.now + closes_in, anonymous, max_per_person)
        return (await open_round(services, draft, actor_id=None)).campaign.id
