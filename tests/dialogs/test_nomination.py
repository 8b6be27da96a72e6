"""Nominations: the campaign, nominating by (partial, accent-free) name, closing, answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.engine import Engine
from bot.messages import Incoming, Profile
from bot.scheduler import Scheduler
from storage.models import Nomination, NominationCampaign, NomineeResponse, Person
from tests.support.broadcasts import START, Clock
from tests.support.nominations import open_campaign
from tests.support.org import Org


@pytest.fixture
async def people(engine: Engine, org: Org) -> dict[str, int]:
    """Colleagues whose names need accent- and part-matching."""
    engine.clock = Clock()
    async with engine.db.transaction() as session:
        added = {
            "jose": Person(name="José Müller", email="jose@example.org", department="Productie"),
            "joost": Person(name="Joost de Vries", email="joost@example.org", department="Kantoor"),
            "joos": Person(name="Joos Smit", email="joos@example.org", department="Logistiek"),
        }
        session.add_all(added.values())
        await session.flush()
        return {key: p.id for key, p in added.items()}


async def campaign(
    engine: Engine, *, anonymous: bool = False, max_per_person: int | None = None
) -> int:
    return await open_campaign(engine, anonymous=anonymous, max_per_person=max_per_person)


async def say_as(engine: Engine, email: str, **fields: str) -> None:
    """Talk as someone outside the Org helper (the colleagues added by `people`)."""
    global _events
    _events += 1
    await engine.handle(
        Incoming(channel="console", event_id=f"n-{_events}", account=email,
                 profile=Profile(email=email), **fields)  # type: ignore[arg-type]
    )  # fmt: skip


_events = 0


async def nominations(engine: Engine) -> list[Nomination]:
    async with engine.db.transaction(read_only=True) as session:
        return list((await session.execute(select(Nomination).order_by(Nomination.id))).scalars())


async def test_or_member_opens_a_campaign_in_chat(engine: Engine, org: Org, people) -> None:  # type: ignore[no-untyped-def]
    for line in ["nominatieronde", "OR-verkiezingen 2027", "gisteren", "over 7 dagen 17:00"]:
        await org.say("olga", line)
    assert "Anoniem of met naam" in (await org.last("olga")).text
    await org.say("olga", "terug")
    assert "Wanneer sluit de ronde" in (await org.last("olga")).text
    await org.say("olga", "2026-12-02 17:00")
    await org.say("olga", "Anoniem")
    await org.say("olga", "geen idee")
    assert "getal van 1 tot 50" in (await org.last("olga")).text
    await org.say("olga", "2")
    await org.say("olga", "Nu openen en aankondigen")
    async with engine.db.transaction(read_only=True) as session:
        [created] = (await session.execute(select(NominationCampaign))).scalars().all()
    assert (created.title, created.anonymous, created.max_per_person) == (
        "OR-verkiezingen 2027",
        True,
        2,
    )
    announcement = await org.last("emp3")
    assert "Nominatieronde: OR-verkiezingen 2027" in announcement.text
    assert [c.payload for c in announcement.choices] == [f"nom:{created.id}:start"]
    await org.say("emp3", "nominatieronde")
    assert "alleen leden van de ondernemingsraad" in (await org.last("emp3")).text


async def test_nominating_with_partial_names_choices_and_back(
    engine: Engine, org: Org, people
) -> None:  # type: ignore[no-untyped-def]
    campaign_id = await campaign(engine)
    await org.say("emp0", "1")  # the announcement's button, typed
    assert "Wie wil je nomineren" in (await org.last("emp0")).text
    await org.say("emp0", "Zwaluw")
    assert "Ik vind niemand met 'Zwaluw'" in (await org.last("emp0")).text
    await org.say("emp0", "joos")  # Joost de Vries and Joos Smit
    choose = await org.last("emp0")
    assert [c.label for c in choose.choices][:2] == [
        "Joos Smit (Logistiek)",
        "Joost de Vries (Kantoor)",
    ]
    await org.say("emp0", "2")
    assert "Waarom nomineer je Joost de Vries?" in (await org.last("emp0")).text
    await org.say("emp0", "terug")  # undo that pick: back to the list
    assert "Wie bedoel je?" in (await org.last("emp0")).text
    await org.say("emp0", "Joos Smit (Logistiek)")
    await org.say("emp0", "Overslaan")
    assert "Gekozen: Joos Smit (Logistiek)" in (await org.last("emp0")).text
    await org.say("emp0", "Ja, nog iemand")
    await org.say("emp0", "JOSE muller")  # accents and case do not matter
    assert "Waarom nomineer je José Müller?" in (await org.last("emp0")).text
    await org.say("emp0", "Overslaan")
    await org.say("emp0", "Ja, nog iemand")
    await org.say("emp0", "smit")
    assert "Joos Smit heb je al genomineerd" in (await org.outbox("emp0"))[-2].text
    await org.say("emp0", "emp0")  # yourself: wants to be a candidate
    assert "kandidaat" in (await org.outbox("emp0"))[-2].text
    await org.say("emp0", "Zij luisteren goed")  # the reason for this pick only
    await org.say("emp0", "Nee, verder")
    summary = (await org.last("emp0")).text
    assert "Joos Smit" in summary and "José Müller" in summary and "Zij luisteren goed" in summary
    await org.say("emp0", "Bevestigen")
    assert "Dank je!" in (await org.last("emp0")).text
    saved = await nominations(engine)
    assert sorted((n.nominee_id, n.is_self) for n in saved) == sorted([
        (people["joos"], False), (people["jose"], False), (org.people["emp0"].id, True),
    ])  # fmt: skip
    assert all(
        n.nominator_id == org.people["emp0"].id and n.campaign_id == campaign_id for n in saved
    )

    # The same colleague twice over two conversations is refused too.
    await org.say("emp0", "nomineer")
    await org.say("emp0", "José")
    assert "José Müller heb je al genomineerd" in (await org.outbox("emp0"))[-2].text


async def test_english_maximum_and_cancel(engine: Engine, org: Org, people) -> None:  # type: ignore[no-untyped-def]
    await org.say("emp1", "nominate")
    assert "no nomination campaign" in (await org.last("emp1")).text
    await campaign(engine, max_per_person=1)
    await org.say("emp1", "nominate")
    await org.say("emp1", "de vries")
    assert "A short reason helps" in (await org.last("emp1")).text
    await org.say("emp1", "Skip")
    assert "maximum of 1" in (await org.outbox("emp1"))[-2].text
    await org.say("emp1", "Confirm")
    await org.say("emp1", "nominate")  # the maximum is used up: refused before asking whom
    assert "maximum of 1" in (await org.last("emp1")).text
    await org.say("emp1", "smit")
    assert "maximum of 1" in (await org.outbox("emp1"))[-2].text
    await org.say("emp1", "cancel")
    assert len(await nominations(engine)) == 1


async def test_a_draft_whose_closing_time_passed_asks_for_it_again(
    engine: Engine, org: Org, people
) -> None:  # type: ignore[no-untyped-def]
    # START is 10:00 in Amsterdam; the draft waits 45 minutes (within the dialog timeout).
    for line in ["nominatieronde", "OR 2027", "2026-11-25 10:30", "Met naam", "Geen maximum"]:
        await org.say("olga", line)
    clock: Clock = engine.clock  # type: ignore[assignment]
    clock.now = START + timedelta(minutes=45)
    await org.say("olga", "Nu openen en aankondigen")
    assert "in het verleden" in (await org.outbox("olga"))[-2].text
    assert "Wanneer sluit de ronde" in (await org.last("olga")).text
    for line in ["2026-12-02 17:00", "Met naam", "Geen maximum", "Nu openen en aankondigen"]:
        await org.say("olga", line)
    assert "is geopend" in (await org.last("olga")).text


async def test_closing_ranks_invites_and_hides_nominators_when_anonymous(
    engine: Engine, org: Org, people
) -> None:  # type: ignore[no-untyped-def]
    campaign_id = await campaign(engine, anonymous=True)
    for key, reason in [("emp0", "Kent iedereen"), ("emp2", "Eerlijk"), ("emp4", None)]:
        await org.say(key, "nomineer")
        await org.say(key, "José")
        await org.say(key, reason or "Overslaan")
        await org.say(key, "Nee, verder")
        await org.say(key, "Bevestigen")
    await org.say("emp6", "nomineer")
    await org.say("emp6", "Joost")
    await org.say("emp6", "Overslaan")
    await org.say("emp6", "Nee, verder")
    await org.say("emp6", "Bevestigen")
    clock: Clock = engine.clock  # type: ignore[assignment]
    clock.now = START + timedelta(days=8)
    assert (await Scheduler(engine).tick()).jobs["campaigns_close"] == 1
    ranked = (await org.last("olga")).text
    assert ranked.index("José Müller: 3 nominaties") < ranked.index("Joost de Vries: 1")
    assert "Emp0" not in ranked and "genomineerd door" not in ranked
    invitation = (await org.outbox())[-2:]  # the nominees' invitations come last
    jose_text = next(m for m in invitation if "3 collega" in m.text)
    assert "Kent iedereen" in jose_text.text and "Emp" not in jose_text.text
    erased = await nominations(engine)  # at closing
    assert all(n.nominator_id is None and n.nominator_key is None for n in erased)

    await say_as(engine, "jose@example.org", choice=f"nr:{campaign_id}:more")
    assert "Heb je interesse?" in (await org.outbox())[-1].text
    await say_as(engine, "jose@example.org", text="1")  # typed: "Ja, interesse"
    async with engine.db.transaction(read_only=True) as session:
        answers = (await session.execute(select(NomineeResponse))).scalars().all()
    by_person = {a.person_id: a for a in answers}
    assert (
        by_person[people["jose"]].response == "interested"
        and by_person[people["jose"]].nominations == 3
    )
    assert by_person[people["joost"]].response is None
    await org.say("emp0", choice=f"nr:{campaign_id}:yes")
    assert "niet uitgenodigd" in (await org.last("emp0")).text
    assert (await Scheduler(engine).tick()).jobs["campaigns_close"] == 0


async def test_named_campaign_shows_nominators_to_the_or(engine: Engine, org: Org, people) -> None:  # type: ignore[no-untyped-def]
    await campaign(engine)
    for key in ("emp0", "emp2"):
        for line in ["nomineer", "Joost", "Goede collega", "Nee, verder", "Bevestigen"]:
            await org.say(key, line)
    await org.say("olga", "nominaties")
    live = (await org.last("olga")).text
    assert "Joost de Vries: 2 nominaties" in live and "genomineerd door: Emp0, Emp2" in live
    for line in ["nomineer", "Emp4", "Overslaan", "Nee, verder", "Bevestigen"]:
        await org.say("emp4", line)  # only themselves
    clock: Clock = engine.clock  # type: ignore[assignment]
    clock.now = START + timedelta(days=8)
    await Scheduler(engine).tick()
    assert all(n.nominator_id is not None for n in await nominations(engine))
    invited = (await org.last("emp4")).text
    assert "aan dat je graag kandidaat wilt zijn" in invited and "0 collega" not in invited
    joost = (await org.outbox())[-2].text  # Joost's invitation names who nominated him
    assert "hebben 2 collega's jou" in joost and "Goede collega” – Emp0" in joost
