"""Nominating as colleagues type (issue 13): names with typos and first names, several fits
asked back (never guessed), a reason per nominee, "ik wil marieke nomineren", and the
nominee's typed "ja" / "nee" / "weet ik niet" to the invitation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.engine import Engine
from bot.scheduler import Scheduler
from storage.models import Nomination, NomineeResponse, Person
from tests.dialogs.test_nomination import say_as
from tests.support.broadcasts import START, Clock
from tests.support.nominations import open_campaign
from tests.support.org import Org


@pytest.fixture
async def people(engine: Engine, org: Org) -> dict[str, int]:
    engine.clock = Clock()
    async with engine.db.transaction() as session:
        added = {
            key: Person(name=name, email=f"{key}@example.org", department=dept)
            for key, name, dept in [
                ("marieke", "Marieke van Dijk", "Productie"),
                ("olaf", "Olaf Jansen", "Kantoor"),
                ("jeroen", "Jeroen Bakker", "Logistiek"),
                ("jeroen2", "Jeroen Smit", "Kantoor"),
            ]
        }
        session.add_all(added.values())
        await session.flush()
        return {key: p.id for key, p in added.items()}


async def saved(engine: Engine) -> list[Nomination]:
    async with engine.db.transaction(read_only=True) as session:
        return list((await session.execute(select(Nomination).order_by(Nomination.id))).scalars())


async def test_typos_first_names_and_a_reason_per_nominee(
    engine: Engine, org: Org, people: dict[str, int]
) -> None:
    await open_campaign(engine)
    await org.say("emp0", "nomineer")
    await org.say("emp0", "mariek van dijck")
    assert "Waarom nomineer je Marieke van Dijk?" in (await org.last("emp0")).text
    await org.say("emp0", "Ze komt op voor iedereen")
    await org.say("emp0", "ja")  # typed: "Ja, nog iemand"
    assert "Wie wil je nomineren" in (await org.last("emp0")).text
    await org.say("emp0", "jerun")  # Jeroen Bakker and Jeroen Smit: asked, not guessed
    choose = await org.last("emp0")
    assert "Wie bedoel je?" in choose.text
    assert [c.label for c in choose.choices][:2] == [
        "Jeroen Bakker (Logistiek)",
        "Jeroen Smit (Kantoor)",
    ]
    await org.say("emp0", "bakker")  # a part of one label
    assert "Waarom nomineer je Jeroen Bakker?" in (await org.last("emp0")).text
    await org.say("emp0", "help")  # explains, never becomes the reason
    assert "Typ waarom je deze collega nomineert" in (await org.last("emp0")).text
    await org.say("emp0", "Rustig en eerlijk")
    await org.say("emp0", "nee")  # typed: "Nee, verder"
    summary = (await org.last("emp0")).text
    assert "Reden voor Marieke van Dijk: Ze komt op voor iedereen" in summary
    assert "Reden voor Jeroen Bakker: Rustig en eerlijk" in summary
    await org.say("emp0", "Bevestigen")
    reasons = {n.nominee_id: n.reason for n in await saved(engine)}
    assert reasons == {
        people["marieke"]: "Ze komt op voor iedereen",
        people["jeroen"]: "Rustig en eerlijk",
    }


async def test_free_text_wish_with_a_name_and_back_undoes_the_pick(
    engine: Engine, org: Org, people: dict[str, int]
) -> None:
    await open_campaign(engine)
    await org.say("emp2", "ik wil marike nomineren")
    assert "Waarom nomineer je Marieke van Dijk?" in (await org.last("emp2")).text
    await org.say("emp2", "terug")  # back to whom: Marieke is no longer picked
    assert "Wie wil je nomineren" in (await org.last("emp2")).text
    await org.say("emp2", "olaf")
    await org.say("emp2", "Overslaan")
    assert "Gekozen: Olaf Jansen (Kantoor)" in (await org.last("emp2")).text
    assert "Marieke" not in (await org.last("emp2")).text
    await org.say("emp2", "zwaluw")  # not a yes/no: asked again with the reason
    assert "Kies een van de knoppen" in (await org.last("emp2")).text
    await org.say("emp2", "Nee, verder")
    await org.say("emp2", "stop")
    assert "Gestopt" in (await org.last("emp2")).text
    assert await saved(engine) == []


async def test_no_round_refuses_the_free_text_wish(engine: Engine, org: Org, people) -> None:  # type: ignore[no-untyped-def]
    await org.say("emp2", "ik wil marieke nomineren")
    assert "geen nominatieronde" in (await org.last("emp2")).text


@pytest.mark.parametrize(
    ("typed", "response"),
    [("ja", "interested"), ("Nee hoor", "declined"), ("weet ik niet", "more_info")],
)
async def test_nominee_answers_the_invitation_in_words(
    engine: Engine, org: Org, people: dict[str, int], typed: str, response: str
) -> None:
    await open_campaign(engine)
    for line in ["nomineer", "olaf", "Overslaan", "Nee, verder", "Bevestigen"]:
        await org.say("emp0", line)
    clock: Clock = engine.clock  # type: ignore[assignment]
    clock.now = START + timedelta(days=8)
    await Scheduler(engine).tick()
    await say_as(engine, "olaf@example.org", text=typed)
    async with engine.db.transaction(read_only=True) as session:
        answer = (await session.execute(select(NomineeResponse))).scalars().one()
    assert answer.person_id == people["olaf"]
    assert answer.response == response


async def test_yes_no_and_late_button_labels_are_never_a_name_or_a_reason(
    engine: Engine, org: Org, people: dict[str, int]
) -> None:
    await open_campaign(engine)
    await org.say("emp0", "nomineer")
    await org.say("emp0", "ja")  # "ja" is in "Jansen", but names no one
    assert "Typ de naam van een collega" in (await org.last("emp0")).text
    await org.say("emp0", "olaf")
    await org.say("emp0", "Nee, verder")  # one step late: not a reason
    assert "Typ een reden" in (await org.last("emp0")).text
    await org.say("emp0", "nee")
    assert "Typ een reden" in (await org.last("emp0")).text
    await org.say("emp0", "Overslaan")
    await org.say("emp0", "Nee, verder")
    await org.say("emp0", "Bevestigen")
    assert [n.reason for n in await saved(engine)] == [None]


async def test_naming_someone_already_nominated_along_with_the_command_asks_who_once(
    engine: Engine, org: Org, people: dict[str, int]
) -> None:
    await open_campaign(engine)
    for line in ["nomineer marieke", "Overslaan", "Nee, verder", "Bevestigen"]:
        await org.say("emp0", line)
    assert len(await saved(engine)) == 1
    before = len(await org.outbox("emp0"))
    await org.say("emp0", "nomineer marieke")
    texts = [m.text for m in (await org.outbox("emp0"))[before:]]
    assert len(texts) == 2, texts
    assert "Marieke van Dijk heb je al genomineerd" in texts[0]
    assert "Wie wil je nomineren" in texts[1]
    await org.say("emp0", "olaf")  # the dialog goes on from the one question
    assert "Waarom nomineer je Olaf Jansen?" in (await org.last("emp0")).text
