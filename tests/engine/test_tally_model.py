"""Property test: random votes, changes and closes agree with a simple model of the tally."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from bot.engine import Engine
from dialogs.poll import vote_payload
from storage.models import Ballot, InboundEvent, OutboxMessage, Participation, Poll
from tests.support.org import Org
from tests.support.polls import create_poll

PEOPLE = [f"emp{i}" for i in range(6)]
actions = st.lists(
    st.one_of(
        st.tuples(st.just("vote"), st.sampled_from(PEOPLE), st.integers(0, 2)),
        st.tuples(st.just("close"), st.just(""), st.just(0)),
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=actions, anonymous=st.booleans())
async def test_tally_matches_model(
    engine: Engine, org: Org, steps: list[tuple[str, str, int]], anonymous: bool
) -> None:
    async with engine.db.transaction() as session:  # hypothesis reuses the fixtures
        for model in (Ballot, Participation, OutboxMessage, InboundEvent, Poll):
            await session.execute(delete(model))
    poll_id, opts = await create_poll(engine, ["A", "B", "C"], anonymous=anonymous)
    current: dict[str, int] = {}
    closed = False
    for kind, who, option in steps:
        if kind == "close":
            await org.say("olga", f"sluit {poll_id}")
            closed = True
            continue
        await org.say(who, choice=vote_payload(poll_id, opts[option]))
        if closed or (anonymous and who in current):
            continue
        current[who] = option
    expected = Counter(current.values())
    async with engine.db.transaction(read_only=True) as session:
        services = engine.services(session)
        poll = await services.polls.get(poll_id)
        assert poll is not None
        tally = await services.polls.tally(poll)
    assert [o.count for o in tally.options] == [expected[i] for i in range(3)]
    assert tally.participants == len(current)
    assert poll.status == ("closed" if closed else "open")
