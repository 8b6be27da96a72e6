"""The creation dialogs of open questions and nomination rounds on the dialog base
(bot/dialog_steps.py): 'help'/'menu', 'terug' and 'stop' at their steps, choices read as typed
("anoniem", "met naam", "productie", "versturen"), a re-ask that says why ("weet ik niet",
"misschien"), and times read by the rule-based reader, echoed in words and asked back when
ambiguous or past (issues 12 and 13)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.engine import Engine
from bot.messages import Outgoing
from storage.broadcast_models import Broadcast
from storage.models import NominationCampaign, OpenQuestion, Poll
from tests.support.broadcasts import START, Clock
from tests.support.org import Org

# START is Wednesday 25 November 2026, 10:00 in Amsterdam.
FRIDAY_MORNING = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)  # 09:00 in Amsterdam


@pytest.fixture
def clock(engine: Engine) -> Clock:
    engine.clock = clock = Clock()
    return clock


async def rows(engine: Engine, model: type) -> list:  # type: ignore[type-arg]
    async with engine.db.transaction(read_only=True) as session:
        return list((await session.execute(select(model).order_by(model.id))).scalars())  # type: ignore[attr-defined]


async def say_all(org: Org, *lines: str) -> None:
    for line in lines:
        await org.say("olga", line)


async def last(org: Org) -> str:
    return (await org.last("olga")).text


# Open questions.


async def test_question_help_typed_choices_and_back_at_the_preview(
    engine: Engine, org: Org, clock: Clock
) -> None:
    await say_all(org, "nieuwe vraag", "help")
    text = await last(org)
    assert text.startswith("Typ de vraag aan de collega's") and "'terug'" in text
    assert "Wat wil je de collega's vragen?" in text
    await say_all(org, "Hoe is de nieuwe kantine?", "menu")
    assert "Kies of antwoorden met naam zijn" in await last(org)  # help, not an answer
    await say_all(org, "anoniem", "vanavond half 8")
    *_, echoed, audience = await org.outbox("olga")
    assert echoed.text.startswith("Genoteerd: woensdag 25 november om 19:30.")
    assert audience.text == "Voor wie is de vraag?"
    await say_all(org, "productie")
    assert "Afdeling Productie" in await last(org)  # the preview
    await say_all(org, "terug")
    assert await last(org) == "Voor wie is de vraag?"
    await say_all(org, "eindhoven", "versturen")
    [question] = await rows(engine, OpenQuestion)
    assert question.text == "Hoe is de nieuwe kantine?" and question.anonymous
    assert question.audience == {"location": "Eindhoven"}
    assert question.closes_at == datetime(2026, 11, 25, 18, 30, tzinfo=UTC)


async def test_question_reasks_say_why(engine: Engine, org: Org, clock: Clock) -> None:
    await say_all(org, "nieuwe vraag", "Wat vind je van de roosters?", "misschien")
    text = await last(org)
    assert text.startswith("'misschien' past bij geen van de keuzes.")
    assert text.endswith("Met naam of anoniem beantwoorden?")
    await say_all(org, "met naam", "6")
    assert (await last(org)).startswith("'6' is alleen een getal, geen tijd.")
    await say_all(org, "om 6")
    asked = await org.last("olga")
    assert asked.text.startswith("'om 6' kan meer dan één tijd zijn:")
    assert [c.label for c in asked.choices[:2]] == [
        "woensdag 25 november om 18:00",
        "donderdag 26 november om 06:00",
    ]
    await org.say("olga", choice=asked.choices[0].payload)
    assert (await org.outbox("olga"))[-2].text.startswith(
        "Genoteerd: woensdag 25 november om 18:00"
    )
    await say_all(org, "afdeling")
    assert (await last(org)).startswith(
        "'afdeling' past bij meer dan één keuze: 'Afdeling Kantoor', 'Afdeling Logistiek' of"
    )
    await say_all(org, "stop")
    assert "Gestopt" in await last(org)
    assert await rows(engine, OpenQuestion) == []


# Nomination rounds.


async def test_round_typed_answers_help_and_back(engine: Engine, org: Org, clock: Clock) -> None:
    clock.now = FRIDAY_MORNING
    await say_all(org, "nominatieronde", "OR 2027", "help")
    assert (await last(org)).startswith("Typ wanneer de ronde sluit")
    await say_all(org, "vrijdag 17:00")  # on a Friday morning: today, not next week
    assert (await org.outbox("olga"))[-2].text.startswith("Genoteerd: vrijdag 27 november om 17:00")
    await say_all(org, "weet ik niet")
    text = await last(org)
    assert (
        text.startswith("'weet ik niet' past bij geen van de keuzes")
        and "Anoniem of met naam" in text
    )
    await say_all(org, "anoniem", "geen idee")
    assert (await last(org)).startswith("Typ een getal van 1 tot 50")
    await say_all(org, "3")  # the maximum, not the third button
    assert "Controleer de nominatieronde" in await last(org)
    await say_all(org, "terug")
    assert "Hoeveel collega's" in await last(org)
    await say_all(org, "Geen maximum", "openen")
    [created] = await rows(engine, NominationCampaign)
    assert (created.anonymous, created.max_per_person) == (True, None)
    assert created.closes_at == datetime(2026, 11, 27, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "local"),
    [
        ("vanavond 19.30", datetime(2026, 11, 25, 19, 30)),
        ("19u30", datetime(2026, 11, 25, 19, 30)),
        ("7-12 08:00", datetime(2026, 12, 7, 8, 0)),  # day first: 7 December
        ("morgen 17u", datetime(2026, 11, 26, 17, 0)),
    ],
)
async def test_round_closing_times_as_typed(
    engine: Engine, org: Org, clock: Clock, typed: str, local: datetime
) -> None:
    await say_all(org, "nominatieronde", "OR 2027", typed, "met naam", "2", "1")
    [created] = await rows(engine, NominationCampaign)
    amsterdam = engine.timezone
    assert created.closes_at == local.replace(tzinfo=amsterdam)


async def test_round_past_time_offers_the_next_one(engine: Engine, org: Org, clock: Clock) -> None:
    clock.now = START + timedelta(hours=8)  # 18:00 in Amsterdam
    await say_all(org, "nominatieronde", "OR 2027", "woensdag 9:00")
    asked = await org.last("olga")
    assert asked.text.startswith("Dat tijdstip (woensdag 25 november om 09:00) is al voorbij.")
    assert asked.choices[0].label == "woensdag 2 december om 09:00"
    await org.say("olga", choice=asked.choices[0].payload)
    assert "Anoniem of met naam" in await last(org)
    await say_all(org, "terug", "terug")
    assert (await last(org)).startswith("Nieuwe nominatieronde. Wat is de titel?")


# Broadcasts.


async def test_broadcast_typed_answers_help_and_back(
    engine: Engine, org: Org, clock: Clock
) -> None:
    await say_all(org, "nieuw bericht", "help")
    text = await last(org)
    assert text.startswith("Typ de tekst van het nieuwsbericht") and "Typ het nieuwsbericht" in text
    await say_all(org, "Vrijdag gratis soep", "geen foto", "menu")
    assert (await last(org)).startswith("Kies wie het bericht krijgt")  # help, not an answer
    await say_all(org, "productie", "vanavond 19.30")
    *_, echoed, ack = await org.outbox("olga")
    assert echoed.text.startswith("Genoteerd: woensdag 25 november om 19:30.")
    assert ack.text.startswith("Moeten mensen met een knop 'Gelezen'")
    await say_all(org, "ja")
    preview = await last(org)
    assert "Afdeling Productie" in preview and "Met 'Gelezen'-knop" in preview
    await say_all(org, "terug")  # not the preview again: the step before it
    assert (await last(org)).startswith("Moeten mensen met een knop 'Gelezen'")
    await say_all(org, "nee hoor", "inplannen")
    assert "ingepland voor woensdag 25 november 2026 19:30" in await last(org)
    [row] = await broadcasts(engine)
    assert (row.audience, row.acknowledge) == ({"department": "Productie"}, False)
    assert row.scheduled_at == datetime(2026, 11, 25, 18, 30, tzinfo=UTC)


async def test_broadcast_time_asked_back_and_stop(engine: Engine, org: Org, clock: Clock) -> None:
    await say_all(org, "nieuw bericht", "Koffie op", "Geen foto", "Iedereen", "om 6")
    asked = await org.last("olga")
    assert asked.text.startswith("'om 6' kan meer dan één tijd zijn:")
    assert len([c for c in asked.choices if c.payload.startswith("bcn:at:")]) == 2
    await say_all(org, "6")
    assert (await last(org)).startswith("'6' is alleen een getal, geen tijd.")
    await say_all(org, "vrijdag 17:00")
    assert (await org.outbox("olga"))[-2].text.startswith("Genoteerd: vrijdag 27 november om 17:00")
    await say_all(org, "misschien")
    assert (await last(org)).startswith("'misschien' past bij geen van de keuzes")
    await say_all(org, "stop")
    assert "Gestopt" in await last(org)
    assert await broadcasts(engine) == []


async def broadcasts(engine: Engine) -> list[Broadcast]:
    async with engine.db.transaction(read_only=True) as session:
        return list((await session.execute(select(Broadcast).order_by(Broadcast.id))).scalars())


# Polls: the times, typed at the closing-time step.


async def poll_closing_at(org: Org, typed: str) -> Outgoing:
    await say_all(org, "nieuwe peiling", "Koffie of thee?", "Koffie", "Thee", "klaar")
    await say_all(org, "één antwoord", "anoniem", typed)
    return await org.last("olga")


@pytest.mark.parametrize(
    ("now", "typed", "local"),
    [
        (START, "vanavond 19.30", datetime(2026, 11, 25, 19, 30)),
        (START, "vanavond half 8", datetime(2026, 11, 25, 19, 30)),
        (FRIDAY_MORNING, "vrijdag 17:00", datetime(2026, 11, 27, 17, 0)),  # today
        (START, "19u30", datetime(2026, 11, 25, 19, 30)),
        (START, "7-12 08:00", datetime(2026, 12, 7, 8, 0)),
        (START, "morgen 17u", datetime(2026, 11, 26, 17, 0)),
    ],
)
async def test_poll_closing_times_as_typed(
    engine: Engine, org: Org, clock: Clock, now: datetime, typed: str, local: datetime
) -> None:
    clock.now = now
    assert (await poll_closing_at(org, typed)).text == "Voor wie is de peiling?"
    echoed = (await org.outbox("olga"))[-2].text
    assert echoed.startswith("Genoteerd: ") and f"om {local:%H:%M}." in echoed
    await say_all(org, "productie", "1")
    [(poll, _)] = await polls(engine)
    assert poll.closes_at == local.replace(tzinfo=engine.timezone)
    assert poll.audience == {"department": "Productie"} and poll.anonymous


@pytest.mark.parametrize(
    ("typed", "start"),
    [
        ("om 6", "'om 6' kan meer dan één tijd zijn: woensdag 25 november om 18:00 of "),
        ("6", "'6' is alleen een getal, geen tijd."),
        ("half 8", "'half 8' kan meer dan één tijd zijn: woensdag 25 november om 19:30 of "),
    ],
)
async def test_poll_unclear_times_are_asked_back(
    engine: Engine, org: Org, clock: Clock, typed: str, start: str
) -> None:
    asked = await poll_closing_at(org, typed)
    assert asked.text.startswith(start) and asked.text.endswith("of '2026-12-01 12:00'.")
    await say_all(org, "Geen sluitingstijd", "iedereen", "1")
    [(poll, _)] = await polls(engine)
    assert poll.closes_at is None


async def polls(engine: Engine) -> list[tuple[Poll, list[str]]]:
    async with engine.db.transaction(read_only=True) as session:
        found = list((await session.execute(select(Poll).order_by(Poll.id))).scalars())
        return [(poll, []) for poll in found]


async def test_english_times_are_echoed_in_english(engine: Engine, org: Org, clock: Clock) -> None:
    await say_all(org, "language en", "new question", "How are you?", "named", "tomorrow 9am")
    assert (await org.outbox("olga"))[
        -2
    ].text == "Noted: Thursday 26 November at 09:00. Not right? Type 'back'."
    await say_all(org, "back", "at 7")
    asked = await org.last("olga")
    assert asked.text.startswith(
        "'at 7' can be more than one time: Wednesday 25 November at 19:00 or Thursday 26 November"
    )
    await org.say("olga", choice=asked.choices[0].payload)
    assert (await org.outbox("olga"))[-2].text.startswith("Noted: Wednesday 25 November at 19:00.")


async def test_a_day_without_a_time_says_the_hour_was_chosen(
    engine: Engine, org: Org, clock: Clock
) -> None:
    await say_all(org, "nominatieronde", "OR 2027", "morgen")
    assert (await org.outbox("olga"))[-2].text.startswith(
        "Genoteerd: donderdag 26 november om 09:00. Je noemde geen tijdstip"
    )
