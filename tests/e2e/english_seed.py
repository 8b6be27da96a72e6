"""The authors' English texts for what tests/e2e/seed.py made, for the layout test in English:
English labels are often longer than the Dutch, so they are checked for fit on their own.

Written straight into the rows (as the use cases store them), after the seed, so the Dutch
layout test and the screenshots keep their Dutch-only content.
"""

from __future__ import annotations

from sqlalchemy import select, update

from bot.engine import Engine
from storage.broadcast_models import Broadcast
from storage.job_models import OpenQuestion
from storage.models import Poll, PollOption
from tests.e2e.seed import Seeded

QUESTION_EN = (
    "How satisfied are you with the new shift scheduling in the production hall since the "
    "introduction of rotating shifts in September, and would you like the works council to "
    "raise this with the management again?"
)
OPTIONS_EN = [
    "Very satisfied, the new arrangement works perfectly well for me",
    "Satisfied, but the handover between the shifts could be better",
    "Neutral, I notice little difference from the old schedule",
    "Dissatisfied, I have less time for my family",
    "Very dissatisfied, the night shifts have become too demanding",
    "I don't know, I have only recently started in this department",
    "Other, I will explain in the open question",
    "No opinion",
]
BROADCAST_EN = (
    "Dear colleagues, today the works council reached agreement with the management on the "
    "terms of employment for 2027. The main arrangements: a pay rise of 3.5 percent as of "
    "1 January, an extra day off for everyone with more than ten years of service, and a "
    "working-from-home allowance that rises with inflation. Read the full text at "
    "https://intranet.voorbeeld.nl/ondernemingsraad/nieuws/2026/arbeidsvoorwaarden-akkoord-2027 "
    "or ask your works council representative."
)
OPEN_QUESTION_EN = (
    "What do you think should be the most important subject for the consultation with the "
    "management about the workload in the second half of the year?"
)


async def add_english(engine: Engine, seeded: Seeded) -> None:
    async with engine.db.transaction() as session:
        await session.execute(
            update(Poll).where(Poll.id == seeded.poll).values(question_en=QUESTION_EN)
        )
        options = (
            await session.execute(
                select(PollOption).where(PollOption.poll_id == seeded.poll).order_by(PollOption.id)
            )
        ).scalars()
        for option, label in zip(options, OPTIONS_EN, strict=True):
            option.label_en = label
        await session.execute(
            update(OpenQuestion)
            .where(OpenQuestion.id == seeded.question)
            .values(text_en=OPEN_QUESTION_EN)
        )
        await session.execute(
            update(Broadcast).where(Broadcast.id == seeded.broadcast).values(text_en=BROADCAST_EN)
        )
