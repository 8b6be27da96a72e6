"""The guided poll creation dialog, in Dutch and in English."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.engine import Engine
from storage.models import Poll
from tests.support.org import Org


async def polls(engine: Engine) -> list[Poll]:
    async with engine.db.transaction(read_only=True) as session:
        return list((await session.execute(select(Poll).order_by(Poll.id))).scalars())


async def test_or_member_creates_a_poll_in_dutch(engine: Engine, org: Org) -> None:
    fixed = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    engine.clock = lambda: fixed
    for line in [
        "nieuwe peiling",
        "Koffie of thee?",
        "Koffie",
        "Thee",
        "koffie",  # duplicate, refused
        "klaar",
        "2",  # multiple answers
        "Anoniem (niemand ziet wie wat koos)",  # typed label
        "morgen 17:00",
        "Afdeling Productie",
        "1",  # open now
    ]:
        await org.say("olga", line)
    [poll] = await polls(engine)
    assert (poll.question, poll.multiple, poll.anonymous) == ("Koffie of thee?", True, True)
    assert poll.audience == {"department": "Productie"}
    assert poll.closes_at == datetime(2026, 11, 26, 16, 0, tzinfo=UTC)  # 17:00 Amsterdam
    assert poll.status == "open" and poll.audience_size == 4
    texts = [m.text for m in await org.outbox("olga")]
    assert any("heb je al" in t for t in texts)
    assert f"Peiling {poll.id} is geopend en naar 4 collega's verstuurd." == texts[-1]
    assert "Koffie of thee?" in (await org.last("emp0")).text


async def test_english_flow_with_bad_input_and_no_closing_time(engine: Engine, org: Org) -> None:
    await org.say("olga", "language en")
    for line in [
        "new poll",
        "Lunch?",
        "only one",
        "done",
        "Yes",
        "done",
        "1",
        "1",
        "next blursday",
    ]:
        await org.say("olga", line)
    texts = [m.text for m in await org.outbox("olga")]
    assert any("at least 2 options" in t for t in texts)
    assert "I do not understand 'next blursday' as a time" in texts[-1]
    await org.say("olga", "No closing time")
    await org.say("olga", "Everyone")
    await org.say("olga", "Open and send now")
    [poll] = await polls(engine)
    assert poll.closes_at is None and poll.audience == {} and not poll.anonymous
    assert poll.audience_size == len(org.people)


async def test_cancel_leaves_the_dialog_and_creates_nothing(engine: Engine, org: Org) -> None:
    await org.say("olga", "nieuwe peiling")
    await org.say("olga", "Iets?")
    await org.say("olga", "annuleer")
    assert "Gestopt" in (await org.last("olga")).text
    await org.say("olga", "klaar")  # no longer in the dialog
    assert await polls(engine) == []
    assert "begrijp ik niet" in (await org.last("olga")).text


async def test_constituent_cannot_create_a_poll(engine: Engine, org: Org) -> None:
    await org.say("emp0", "nieuwe peiling")
    assert "alleen leden van de ondernemingsraad" in (await org.last("emp0")).text.lower()
    await org.say("emp0", choice="menu:new_poll")
    assert await polls(engine) == []


async def test_dialog_button_after_the_dialog_ended_is_answered(engine: Engine, org: Org) -> None:
    await org.say("olga", choice="pc:open")
    assert "al is afgelopen" in (await org.last("olga")).text
    assert await polls(engine) == []
