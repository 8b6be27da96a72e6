"""The poll list's "answered" column (bot/web/queries.participants): people, not ballots —
a multiple-choice voter with two choices counts once — on SQLite and PostgreSQL."""

from __future__ import annotations

from bot.engine import Engine
from bot.messages import PAYLOAD_JOIN
from bot.web import queries
from dialogs.poll import vote_payload
from storage.polls import Polls
from tests.support.org import Org
from tests.support.polls import create_poll


async def test_answered_counts_people_in_single_multiple_and_anonymous_polls(
    engine: Engine, org: Org
) -> None:
    single, s_opts = await create_poll(engine, ["Ja", "Nee"])
    multiple, m_opts = await create_poll(engine, ["A", "B", "C"], multiple=True)
    anonymous, a_opts = await create_poll(engine, ["Ja", "Nee"], anonymous=True)
    for key, s, m in (("emp0", 0, [0, 1]), ("emp1", 1, [2]), ("emp2", 0, [0, 1, 2])):
        await org.say(key, choice=vote_payload(single, s_opts[s]))
        chosen = PAYLOAD_JOIN.join(vote_payload(multiple, m_opts[i]) for i in m)
        await org.say(key, choice=chosen)
    await org.say("emp3", choice=vote_payload(anonymous, a_opts[1]))
    async with engine.db.transaction(read_only=True) as session:
        polls = [await Polls(session).get(i) for i in (single, multiple, anonymous)]
        answered = await queries.participants(session, [p for p in polls if p is not None])
    assert answered == {single: 3, multiple: 3, anonymous: 1}


async def test_a_breakdown_counts_people_once_whatever_they_chose(engine: Engine, org: Org) -> None:
    """Per group, a multiple-choice voter with two choices is one voter, a single-choice
    poll's voters are its ballots."""
    single, s_opts = await create_poll(engine, ["Ja", "Nee"])
    multiple, m_opts = await create_poll(engine, ["A", "B", "C"], multiple=True)
    voters = [f"emp{i}" for i in range(0, 8, 2)] + ["olga"]  # Productie + Kantoor
    for key in voters:
        await org.say(key, choice=vote_payload(single, s_opts[0]))
        both = PAYLOAD_JOIN.join(vote_payload(multiple, m_opts[i]) for i in (0, 2))
        await org.say(key, choice=both)
    async with engine.db.transaction(read_only=True) as session:
        found = {}
        for poll_id in (single, multiple):
            poll = await Polls(session).get(poll_id)
            assert poll is not None
            found[poll_id] = await queries.breakdown(session, poll, "channel")
    for poll_id in (single, multiple):
        breakdown = found[poll_id]
        assert breakdown is not None and [g.voters for g in breakdown.groups] == [5]
    assert found[multiple].groups[0].counts == {m_opts[0]: 5, m_opts[2]: 5}  # type: ignore[union-attr]
