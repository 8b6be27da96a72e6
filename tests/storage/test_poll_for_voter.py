"""`Polls.for_voter` is read once per event (a typed vote asks it to see whether the poll takes
the answer, then again to cast it), and a vote through the repository makes it read again."""

from __future__ import annotations

from typing import Any

from bot.engine import Engine
from storage.unit import Unit, raw
from tests.support.org import Org
from tests.support.polls import create_poll


async def count_statements(unit: Unit) -> list[str]:
    """The statements the event's driver connection runs from now on."""
    seen: list[str] = []
    sql = await raw(unit)
    if sql.is_postgres:
        sql.driver.add_query_logger(lambda record: seen.append(record.query))
    else:

        def trace(statement: Any) -> None:
            seen.append(str(statement))

        await sql.driver.set_trace_callback(trace)
    return seen


async def test_for_voter_is_read_once_until_a_vote_changes_it(engine: Engine, org: Org) -> None:
    poll_id, options = await create_poll(engine, ["Ja", "Nee"])
    person_id = org.people["emp0"].id
    async with engine.db.event() as unit:
        polls = engine.services(unit).polls
        first = await polls.for_voter(poll_id, person_id)
        assert first is not None
        seen = await count_statements(unit)
        again = await polls.for_voter(poll_id, person_id)
        assert again is not None and again[0] is first[0] and again[2] == [] and not seen
        again[2].append(options[1])  # a caller's list is its own
        poll, rows, before = await polls.for_voter(poll_id, person_id)  # type: ignore[misc]
        assert before == [] and not seen
        outcome, _tally = await polls.vote_and_tally(
            poll, person_id, [options[0]], "console", rows, now=engine.clock(), before=before
        )
        assert outcome.name == "NEW"
        after = await polls.for_voter(poll_id, person_id)
        assert after is not None and after[2] == [options[0]]
        assert any("ballots" in s for s in seen)


async def test_a_typed_vote_reads_the_persons_prompts_once(engine: Engine, org: Org) -> None:
    """The latest prompt (what "2" answers) and the other polls it might be meant for come
    from one read of the person's last prompts."""
    poll_id, options = await create_poll(engine, ["Ja", "Nee"])
    async with engine.db.event() as unit:
        seen = await count_statements(unit)
        await engine._in_unit(unit, org.incoming("emp0", "2"))
    assert len([s for s in seen if "prompt IS NOT NULL" in s]) == 1, seen
    async with engine.db.transaction(read_only=True) as session:
        polls = engine.services(session).polls
        found = await polls.for_voter(poll_id, org.people["emp0"].id)
    assert found is not None and found[2] == [options[1]]
