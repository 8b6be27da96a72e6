"""Answering polls: buttons, typed numbers and labels, changes, anonymity, closing."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.engine import Engine
from bot.messages import PAYLOAD_JOIN
from dialogs.poll import vote_payload
from storage.models import Ballot, Participation, PollOption
from storage.people import Audience
from tests.support.org import Org
from tests.support.polls import create_poll


async def ballots(engine: Engine) -> list[tuple[int, int]]:
    async with engine.db.transaction(read_only=True) as session:
        rows = await session.execute(select(Ballot.person_id, Ballot.option_id).order_by(Ballot.id))
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_poll_is_sent_to_everyone_with_buttons(engine: Engine, org: Org) -> None:
    await create_poll(engine, ["Ja", "Nee"], question="Vrijdag borrel?")
    for key in org.people:
        message = await org.last(key)
        assert "Vrijdag borrel?" in message.text
        assert [c.label for c in message.choices] == ["Ja", "Nee"]
    english = await org.last("emp1")
    assert "Poll" in english.text and "Peiling" not in english.text


async def test_vote_by_button_confirms_the_choice(engine: Engine, org: Org) -> None:
    poll_id, opts = await create_poll(engine, ["Ja", "Nee"])
    await org.say("emp0", choice=vote_payload(poll_id, opts[1]))
    assert await ballots(engine) == [(org.people["emp0"].id, opts[1])]
    reply = await org.last("emp0")
    assert "Je koos: Nee" in reply.text and "Tussenstand" in reply.text


async def test_typed_number_and_label_answer_the_latest_poll(engine: Engine, org: Org) -> None:
    _poll_id, opts = await create_poll(engine, ["Één", "Twee", "Drie"])
    await org.say("emp0", "2")
    await org.say("emp2", "  drie ")
    await org.say("emp4", "EEN")  # accent- and case-insensitive
    assert sorted(await ballots(engine)) == sorted(
        [
            (org.people["emp0"].id, opts[1]),
            (org.people["emp2"].id, opts[2]),
            (org.people["emp4"].id, opts[0]),
        ]
    )


async def test_typed_answer_goes_to_the_most_recent_poll(engine: Engine, org: Org) -> None:
    first, _ = await create_poll(engine, ["A", "B"])
    second, opts = await create_poll(engine, ["C", "D"])
    await org.say("emp0", "1")
    assert await ballots(engine) == [(org.people["emp0"].id, opts[0])]
    assert first != second


async def test_named_vote_can_be_changed_and_replaces(engine: Engine, org: Org) -> None:
    poll_id, opts = await create_poll(engine, ["A", "B"])
    await org.say("emp0", choice=vote_payload(poll_id, opts[0]))
    await org.say("emp0", choice=vote_payload(poll_id, opts[1]))
    assert await ballots(engine) == [(org.people["emp0"].id, opts[1])]
    assert "gewijzigd in: B" in (await org.last("emp0")).text
    await org.say("emp0", choice=vote_payload(poll_id, opts[1]))
    assert "Er is niets veranderd" in (await org.last("emp0")).text


async def test_anonymous_vote_counts_once_and_cannot_change(engine: Engine, org: Org) -> None:
    poll_id, opts = await create_poll(engine, ["A", "B"], anonymous=True)
    await org.say("emp0", choice=vote_payload(poll_id, opts[0]))
    assert "niet meer wijzigen" in (await org.last("emp0")).text
    await org.say("emp0", choice=vote_payload(poll_id, opts[1]))
    assert "kun je je stem niet wijzigen" in (await org.last("emp0")).text
    async with engine.db.transaction(read_only=True) as session:
        counts = dict(
            (await session.execute(select(PollOption.id, PollOption.anonymous_count))).all()
        )
        participants = (await session.execute(select(func.count(Participation.poll_id)))).scalar()
    assert counts == {opts[0]: 1, opts[1]: 0}
    assert participants == 1
    assert await ballots(engine) == []


async def test_multiple_choice_by_typed_numbers(engine: Engine, org: Org) -> None:
    poll_id, opts = await create_poll(engine, ["A", "B", "C"], multiple=True)
    await org.say("emp0", "1, 3")
    assert sorted(await ballots(engine)) == [
        (org.people["emp0"].id, opts[0]),
        (org.people["emp0"].id, opts[2]),
    ]
    submitted = PAYLOAD_JOIN.join(vote_payload(poll_id, o) for o in opts[1:])
    await org.say("emp2", choice=submitted)
    assert "B, C" in (await org.last("emp2")).text


async def test_single_choice_poll_refuses_two_options(engine: Engine, org: Org) -> None:
    poll_id, opts = await create_poll(engine, ["A", "B"])
    both = PAYLOAD_JOIN.join(vote_payload(poll_id, o) for o in opts)
    await org.say("emp0", choice=both)
    assert await ballots(engine) == []
    assert "één antwoord" in (await org.last("emp0")).text


async def test_closed_poll_refuses_answers_and_sends_results(engine: Engine, org: Org) -> None:
    poll_id, opts = await create_poll(engine, ["A", "B"])
    await org.say("emp0", choice=vote_payload(poll_id, opts[0]))
    await org.say("olga", f"sluit {poll_id}")
    assert f"Peiling {poll_id} is gesloten" in (await org.last("olga")).text
    for key in ("emp3", "mo"):
        assert f"Uitslag peiling {poll_id}" in (await org.last(key)).text
    await org.say("emp2", choice=vote_payload(poll_id, opts[1]))
    assert "gesloten" in (await org.last("emp2")).text
    assert len(await ballots(engine)) == 1


async def test_button_of_a_closed_poll_typed_later_changes_nothing(
    engine: Engine, org: Org
) -> None:
    poll_id, _opts = await create_poll(engine, ["A", "B"])
    await org.say("olga", f"sluit {poll_id}")
    await org.say("emp0", "1")  # the poll was the last question with choices they got
    assert await ballots(engine) == []


async def test_audience_is_respected(engine: Engine, org: Org) -> None:
    poll_id, opts = await create_poll(engine, ["A", "B"], audience=Audience(department="Productie"))
    assert "Wat vind je ervan?" in (await org.last("emp0")).text  # Productie
    assert await org.outbox("emp1") == []  # Logistiek got nothing
    await org.say("emp1", choice=vote_payload(poll_id, opts[0]))
    assert "not meant for your department" in (await org.last("emp1")).text  # emp1 reads English
    assert await ballots(engine) == []


async def test_hidden_results_are_not_shown_to_voters(engine: Engine, org: Org) -> None:
    poll_id, opts = await create_poll(engine, ["A", "B"], hide_results=True)
    await org.say("emp0", choice=vote_payload(poll_id, opts[0]))
    assert "Tussenstand" not in (await org.last("emp0")).text
    await org.say("emp0", f"resultaten {poll_id}")
    assert "nog niet zichtbaar" in (await org.last("emp0")).text
    await org.say("olga", f"resultaten {poll_id}")
    assert "A: 1" in (await org.last("olga")).text


async def test_malformed_button_payloads_change_nothing(engine: Engine, org: Org) -> None:
    poll_id, _opts = await create_poll(engine, ["A", "B"])
    for bad in (
        "poll:x:vote:1",
        f"poll:{poll_id}:vote:99999",
        "poll:",
        f"poll:{poll_id + 5}:vote:1",
    ):
        await org.say("emp0", choice=bad)
    assert await ballots(engine) == []
    texts = [m.text for m in await org.outbox("emp0")][-4:]
    assert any("begrijp ik niet" in t for t in texts) and any("bestaat niet" in t for t in texts)


async def test_or_can_list_who_has_not_voted_on_a_named_poll(engine: Engine, org: Org) -> None:
    poll_id, opts = await create_poll(engine, ["A", "B"])
    for key in org.people:
        if key != "emp5":
            await org.say(key, choice=vote_payload(poll_id, opts[0]))
    await org.say("olga", f"niet gestemd {poll_id}")
    text = (await org.last("olga")).text
    assert "1 collega" in text and "Emp5" in text
    await org.say("emp0", f"niet gestemd {poll_id}")
    assert "alleen leden van de ondernemingsraad" in (await org.last("emp0")).text.lower()


async def test_fragment_of_one_label_answers_and_noise_keeps_the_question(
    engine: Engine, org: Org
) -> None:
    _poll_id, opts = await create_poll(engine, ["In de kantine", "In een restaurant"])
    await org.say("emp0", "blabla")  # not understood: the poll stays the pending question
    assert "begrijp ik niet" in (await org.last("emp0")).text
    await org.say("emp0", "restaurant?")
    assert await ballots(engine) == [(org.people["emp0"].id, opts[1])]
    await org.say("emp2", "in")  # fits both labels: not an answer
    await org.say("emp2", "2")
    assert (org.people["emp2"].id, opts[1]) in await ballots(engine)


async def test_a_command_word_beats_a_fragment_of_a_label(engine: Engine, org: Org) -> None:
    await create_poll(engine, ["Het menu van de kantine", "Iets anders"])
    await org.say("emp0", "menu")
    assert await ballots(engine) == []
    assert "Wat je kunt doen" in (await org.last("emp0")).text


async def test_live_results_count_the_vote_just_cast(engine: Engine, org: Org) -> None:
    poll_id, opts = await create_poll(engine, ["A", "B"])
    await org.say("emp0", choice=vote_payload(poll_id, opts[0]))
    await org.say("emp2", choice=vote_payload(poll_id, opts[0]))
    await org.say("emp0", choice=vote_payload(poll_id, opts[1]))  # changed: A → B
    reply = (await org.last("emp0")).text
    assert "1. A: 1 (50%)" in reply and "2. B: 1 (50%)" in reply


async def test_an_anonymous_vote_is_confirmed_without_the_choice_or_the_tally(
    engine: Engine, org: Org
) -> None:
    """The confirmation waits in the outbox under the voter's account: neither the choice nor
    the tally just after the vote (its difference from the last one is the vote) is in it."""
    secret, secret_opts = await create_poll(engine, ["Ja", "Nee"], anonymous=True)
    await org.say("emp4", choice=vote_payload(secret, secret_opts[1]))
    reply = (await org.last("emp4")).text
    assert "geteld" in reply
    assert "Nee" not in reply and "100%" not in reply and ": 1" not in reply
