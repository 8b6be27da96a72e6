"""Typed poll answers as colleagues type them (issue 13): each reply below was refused or
misrouted by the old exact-or-number matching."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.engine import Engine
from dialogs.poll import vote_payload
from storage.models import OutboxMessage
from storage.vote_comment_models import VoteComment
from tests.dialogs.test_poll import ballots
from tests.support.org import Org
from tests.support.polls import create_poll

YES_NO = ["Ja", "Nee", "Weet ik niet"]
GIFTS = ["Kerstpakket", "Extra vrije dag", "Cadeaubon"]


@pytest.mark.parametrize(
    ("typed", "index"),
    [
        ("Ja!", 0),
        ("ja hoor 👍", 0),
        ("jup", 0),
        ("nee hoor", 1),
        ("weet niet", 2),
        ("geen idee", 2),
    ],
)
async def test_yes_no_dont_know_as_typed(engine: Engine, org: Org, typed: str, index: int) -> None:
    _poll_id, opts = await create_poll(engine, YES_NO)
    await org.say("emp0", typed)
    assert await ballots(engine) == [(org.people["emp0"].id, opts[index])]


async def test_yes_from_an_english_speaker(engine: Engine, org: Org) -> None:
    _poll_id, opts = await create_poll(engine, YES_NO)
    await org.say("emp1", "yes")
    assert await ballots(engine) == [(org.people["emp1"].id, opts[0])]


async def test_a_remark_with_a_named_vote_is_kept_for_the_or(engine: Engine, org: Org) -> None:
    poll_id, opts = await create_poll(engine, YES_NO)
    await org.say("emp0", "nee, de broek is te warm")
    assert await ballots(engine) == [(org.people["emp0"].id, opts[1])]
    messages = await org.outbox("emp0")
    assert "Je koos: Nee" in messages[-2].text
    assert "opmerking is bewaard" in messages[-1].text
    assert "broek" not in messages[-1].text
    async with engine.db.transaction(read_only=True) as session:
        [comment] = (await session.execute(select(VoteComment))).scalars().all()
    assert (comment.poll_id, comment.person_id) == (poll_id, org.people["emp0"].id)
    assert comment.text == "de broek is te warm"
    await org.say("emp0", "ja, in de winter is hij fijn")  # a later remark replaces the earlier
    await org.say("olga", f"uitslag {poll_id}")
    results = (await org.last("olga")).text
    assert "“in de winter is hij fijn” (Ja)" in results and "broek" not in results
    assert "Emp0" not in results  # remarks are shown without a name
    await org.say("emp2", "ja")
    await org.say("emp2", f"uitslag {poll_id}")
    assert "winter" not in (await org.last("emp2")).text  # for the OR only


async def test_an_anonymous_remark_is_dropped_with_a_word(engine: Engine, org: Org) -> None:
    await create_poll(engine, YES_NO, anonymous=True)
    await org.say("emp0", "nee, de broek is te warm")
    messages = await org.outbox("emp0")
    assert "geteld" in messages[-2].text
    assert "opmerking is niet bewaard" in messages[-1].text and "anoniem" in messages[-1].text
    assert all("broek" not in m.text for m in messages)
    async with engine.db.transaction(read_only=True) as session:
        assert (await session.execute(select(VoteComment))).scalars().all() == []


@pytest.mark.parametrize(
    ("typed", "index"),
    [
        ("Kerstpakket graag!", 0),
        ("kerstpaket", 0),
        ("drie", 2),
        ("de tweede", 1),
        ("doe mij maar een extra vrije dag 😄", 1),
    ],
)
async def test_gift_choices_as_typed(engine: Engine, org: Org, typed: str, index: int) -> None:
    _poll_id, opts = await create_poll(engine, GIFTS)
    await org.say("emp0", typed)
    assert await ballots(engine) == [(org.people["emp0"].id, opts[index])]


async def test_two_plausible_readings_are_asked_back_never_guessed(
    engine: Engine, org: Org
) -> None:
    poll_id, opts = await create_poll(engine, GIFTS)
    await org.say("emp0", "kerstpakket of cadeaubon")
    assert await ballots(engine) == []
    asked = await org.last("emp0")
    assert asked.text.startswith("Bedoel je Kerstpakket of Cadeaubon?")
    assert [c.payload for c in asked.choices] == [
        vote_payload(poll_id, opts[0]),
        vote_payload(poll_id, opts[2]),
    ]
    await org.say("emp0", "2")  # the buttons of the question back are what was asked last
    assert await ballots(engine) == [(org.people["emp0"].id, opts[2])]


async def test_a_clear_answer_to_an_older_poll_counts_there(engine: Engine, org: Org) -> None:
    _older, idea_opts = await create_poll(engine, ["Goed idee", "Slecht idee"])
    await create_poll(engine, GIFTS)
    await org.say("emp0", "goed idee")
    assert await ballots(engine) == [(org.people["emp0"].id, idea_opts[0])]


async def test_an_older_polls_label_against_a_yes_reading_of_the_latest_asks(
    engine: Engine, org: Org
) -> None:
    """ "goed idee" could be a yes to the latest poll, and is the very label of an older one."""
    older, idea_opts = await create_poll(engine, ["Goed idee", "Slecht idee"])
    latest, yes_opts = await create_poll(engine, YES_NO)
    await org.say("emp0", "goed idee")
    assert await ballots(engine) == []
    asked = await org.last("emp0")
    assert asked.text.startswith(f"Bedoel je peiling {older} of {latest}?")
    assert [c.payload for c in asked.choices] == [
        vote_payload(older, idea_opts[0]),
        vote_payload(latest, yes_opts[0]),
    ]
    await org.say("emp0", "1")
    assert await ballots(engine) == [(org.people["emp0"].id, idea_opts[0])]


async def test_a_number_with_several_polls_open_asks_which_poll(engine: Engine, org: Org) -> None:
    """The latest poll (anonymous, already answered) cannot take it; two others could."""
    first, first_opts = await create_poll(engine, ["A", "B"])
    second, second_opts = await create_poll(engine, ["C", "D"])
    secret, secret_opts = await create_poll(engine, ["Ja", "Nee"], anonymous=True)
    await org.say("emp0", choice=vote_payload(secret, secret_opts[0]))
    await org.say("emp0", "2")
    assert await ballots(engine) == []
    asked = await org.last("emp0")
    assert asked.text.startswith(f"Bedoel je peiling {first} of {second}?")
    assert [c.payload for c in asked.choices] == [
        vote_payload(first, first_opts[1]),
        vote_payload(second, second_opts[1]),
    ]
    await org.say("emp0", "1")
    assert await ballots(engine) == [(org.people["emp0"].id, first_opts[1])]


async def test_a_number_meant_for_another_poll_is_asked_back_even_when_one_fits(
    engine: Engine, org: Org
) -> None:
    """A position says nothing of which poll: never counted in a poll the person did not see
    last without asking."""
    other, other_opts = await create_poll(engine, ["A", "B"], anonymous=True)
    secret, secret_opts = await create_poll(engine, ["Ja", "Nee"], anonymous=True)
    await org.say("emp0", choice=vote_payload(secret, secret_opts[0]))
    await org.say("emp0", "2")
    asked = await org.last("emp0")
    assert asked.text.startswith(f"Bedoel je peiling {other}?")
    assert [c.payload for c in asked.choices] == [vote_payload(other, other_opts[1])]


async def test_menu_is_still_the_menu_with_polls_open(engine: Engine, org: Org) -> None:
    await create_poll(engine, YES_NO)
    await org.say("emp0", "menu")
    assert await ballots(engine) == []
    assert "Wat je kunt doen" in (await org.last("emp0")).text


async def test_an_answer_whose_remark_asks_for_a_job_is_asked_back(
    engine: Engine, org: Org
) -> None:
    poll_id, opts = await create_poll(engine, YES_NO)
    await org.say("emp0", "nee, ik wil geen nieuwsberichten meer")
    assert await ballots(engine) == []  # neither read as a vote nor as an opt-out
    question = await org.last("emp0")
    assert "Bedoel je je antwoord op de peiling" in question.text
    assert [c.payload for c in question.choices] == [
        vote_payload(poll_id, opts[1]),
        "intent:opt_out_news",
    ]
    await org.say("emp0", choice="intent:opt_out_news")
    assert "Wil je je afmelden" in (await org.last("emp0")).text


async def test_asking_back_in_an_anonymous_poll_keeps_no_vote_next_to_the_person(
    engine: Engine, org: Org
) -> None:
    """The buttons of "Bedoel je A of B?" are votes: for an anonymous poll the message is
    sealed and its prompt is not kept, so no outbox row says what the person meant to choose;
    a typed "2" is then not understood (a refusal), while the button still votes."""
    poll_id, opts = await create_poll(engine, GIFTS, anonymous=True)
    await org.say("emp0", "kerstpakket of cadeaubon")
    async with engine.db.transaction(read_only=True) as session:
        rows = (
            await session.execute(
                select(OutboxMessage.prompt, OutboxMessage.payload).where(
                    OutboxMessage.person_id == org.people["emp0"].id
                )
            )
        ).all()
    assert rows[-1].prompt == {"choices": [], "multiple": False, "sealed": True}
    # (the poll's own message lists every option; the question back names the ones meant)
    assert f"poll:{poll_id}:vote" not in str(rows[-1])
    await org.say("emp0", "2")
    assert await ballots(engine) == []
    await org.say("emp0", choice=vote_payload(poll_id, opts[2]))
    async with engine.db.transaction(read_only=True) as session:
        polls = engine.services(session).polls
        poll = await polls.get(poll_id)
        assert poll is not None
        tally = await polls.tally(poll)
    assert tally.participants == 1
