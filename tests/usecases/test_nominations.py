"""Each rule of nomination rounds once, against the use case (chat, dashboard and CLI call it)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.engine import Engine
from bot.usecases.nominations import (
    CLOSES,
    MAX,
    TITLE,
    RoundDraft,
    accepting_round,
    answer_invitation,
    check_pick,
    close_due_rounds,
    close_round,
    nominate,
    open_round,
    problems,
)
from storage.models import AuditEntry, Nomination, NominationCampaign, OutboxMessage
from tests.support.broadcasts import START, Clock
from tests.support.databases import count
from tests.support.nominations import open_campaign
from tests.support.org import Org
from tests.support.usecases import refusal, run


@pytest.fixture
def clock(engine: Engine) -> Clock:
    engine.clock = clock = Clock()
    return clock


def draft(**changes: object) -> RoundDraft:
    fields: dict[str, object] = {"title": "OR 2027", "closes_at": START + timedelta(days=7)}
    return RoundDraft(**{**fields, **changes})  # type: ignore[arg-type]


async def test_opening_checks_title_closing_time_and_maximum(
    engine: Engine, org: Org, clock: Clock
) -> None:
    cases = {
        TITLE: [draft(title=""), draft(title="   "), draft(title="x" * 201)],
        CLOSES: [
            draft(closes_at=None),
            draft(closes_at=START),
            draft(closes_at=START - timedelta(1)),
        ],
        MAX: [draft(max_per_person=n) for n in (0, 51, "0", "-3", "drie", "")],
    }
    for field, drafts in cases.items():
        for bad in drafts:
            refused = await refusal(engine, lambda s, d=bad: open_round(s, d, actor_id=None))
            assert refused.params["field"] == field, bad
    everything_wrong = draft(title="", closes_at=None, max_per_person=99)
    assert [r.params["field"] for r in problems(everything_wrong, START)] == [TITLE, CLOSES, MAX]
    assert (
        await count(engine.db, NominationCampaign) == 0
        and await count(engine.db, OutboxMessage) == 0
    )

    opened = await run(
        engine,
        lambda s: open_round(s, draft(title="  OR 2027 ", max_per_person="3"), actor_id=None),
    )
    assert (opened.campaign.title, opened.campaign.max_per_person) == ("OR 2027", 3)
    assert opened.queued == len(org.people) and opened.wakes_delivery  # everyone is told
    async with engine.db.transaction(read_only=True) as session:
        actions = list((await session.execute(select(AuditEntry.action))).scalars())
    assert "campaign.opened" in actions


async def test_nominating_needs_an_open_round_before_its_deadline(
    engine: Engine, org: Org, clock: Clock
) -> None:
    emp0, emp2 = org.people["emp0"].id, org.people["emp2"].id
    assert (await refusal(engine, lambda s: accepting_round(s, None, emp0))).key == (
        "nomination.no_campaign"
    )
    campaign_id = await open_campaign(engine)
    clock.now = START + timedelta(days=7)  # the closing time itself; the scheduler has not run
    refused = await refusal(engine, lambda s: nominate(s, campaign_id, emp0, [emp2], None))
    assert refused.key == "nomination.campaign_closed_since"
    assert refused.params["when"] == START + timedelta(days=7)
    assert (await refusal(engine, lambda s: accepting_round(s, None, emp0))).key == (
        "nomination.no_campaign"
    )
    assert await count(engine.db, Nomination) == 0


async def test_duplicates_self_nomination_and_the_maximum(
    engine: Engine, org: Org, clock: Clock
) -> None:
    p = {key: person.id for key, person in org.people.items()}
    campaign_id = await open_campaign(engine, max_per_person=2)

    pick = await run(engine, lambda s: check_pick(s, campaign_id, p["emp0"], (p["emp0"], "Emp0")))
    assert pick.is_self and not pick.full and pick.limit == 2
    pick = await run(
        engine, lambda s: check_pick(s, campaign_id, p["emp0"], (p["emp1"], "Emp1"), [p["emp0"]])
    )
    assert pick.full and not pick.is_self
    twice = await refusal(
        engine, lambda s: check_pick(s, campaign_id, p["emp0"], (p["emp0"], "Emp0"), [p["emp0"]])
    )
    assert (twice.key, twice.params["name"]) == ("nomination.duplicate", "Emp0")
    over = await refusal(
        engine,
        lambda s: nominate(s, campaign_id, p["emp0"], [p["emp1"], p["emp2"], p["emp3"]], None),
    )
    assert (over.key, over.params["max"]) == ("nomination.limit_reached", 2)

    _, saved = await run(
        engine, lambda s: nominate(s, campaign_id, p["emp0"], [p["emp0"], p["emp1"]], "Goed")
    )
    assert saved == [p["emp0"], p["emp1"]]
    async with engine.db.transaction(read_only=True) as session:
        rows = (await session.execute(select(Nomination))).scalars().all()
    assert {(n.nominee_id, n.is_self) for n in rows} == {(p["emp0"], True), (p["emp1"], False)}
    other = await run(engine, lambda s: check_pick(s, campaign_id, p["emp2"], (p["emp1"], "E")))
    assert not other.full  # another nominator may name Emp1 too
    used_up = await refusal(engine, lambda s: accepting_round(s, campaign_id, p["emp0"]))
    assert (used_up.key, used_up.params["max"]) == ("nomination.limit_reached", 2)
    reason = await refusal(engine, lambda s: nominate(s, campaign_id, p["emp4"], [p["emp5"]], ""))
    assert reason.key == "nomination.reason_length"


async def test_a_colleague_nominated_in_an_earlier_conversation_is_not_saved_twice(
    engine: Engine, org: Org, clock: Clock
) -> None:
    emp0, emp1, emp2 = (org.people[k].id for k in ("emp0", "emp1", "emp2"))
    campaign_id = await open_campaign(engine)
    await run(engine, lambda s: nominate(s, campaign_id, emp0, [emp1], None))
    twice = await refusal(engine, lambda s: check_pick(s, campaign_id, emp0, (emp1, "Emp1")))
    assert (twice.key, twice.params["name"]) == ("nomination.duplicate", "Emp1")
    _, saved = await run(engine, lambda s: nominate(s, campaign_id, emp0, [emp1, emp2, emp2], None))
    assert saved == [emp2] and await count(engine.db, Nomination) == 2


async def test_an_anonymous_round_keeps_only_a_keyed_hash_and_erases_it_at_closing(
    engine: Engine, org: Org, clock: Clock
) -> None:
    emp0, emp1 = org.people["emp0"].id, org.people["emp1"].id
    campaign_id = await open_campaign(engine, anonymous=True)
    await run(engine, lambda s: nominate(s, campaign_id, emp0, [emp1], "Eerlijk"))
    async with engine.db.transaction(read_only=True) as session:
        (row,) = (await session.execute(select(Nomination))).scalars().all()
        expected = engine.services(session).pseudonym(f"nominator\x00{campaign_id}\x00{emp0}")
    assert row.nominator_id is None and row.nominator_key == expected
    twice = await refusal(engine, lambda s: check_pick(s, campaign_id, emp0, (emp1, "Emp1")))
    assert twice.key == "nomination.duplicate"  # the hash is enough to recognise the nominator

    closed = await run(engine, lambda s: close_round(s, campaign_id, actor_id=None))
    assert closed.closed and closed.wakes_delivery
    async with engine.db.transaction(read_only=True) as session:
        (row,) = (await session.execute(select(Nomination))).scalars().all()
    assert row.nominator_id is None and row.nominator_key is None


async def test_closing_once_by_hand_or_when_due_and_answering_the_invitation(
    engine: Engine, org: Org, clock: Clock
) -> None:
    emp0, emp1 = org.people["emp0"].id, org.people["emp1"].id
    missing = await refusal(engine, lambda s: close_round(s, 999_999, actor_id=None))
    assert missing.key == "campaign.not_found"
    campaign_id = await open_campaign(engine)
    await run(engine, lambda s: nominate(s, campaign_id, emp0, [emp1], None))
    not_yet = await refusal(engine, lambda s: answer_invitation(s, campaign_id, emp1, "yes"))
    assert not_yet.key == "campaign.not_invited"
    assert await run(engine, close_due_rounds) == 0  # not due yet
    clock.now = START + timedelta(days=7)
    assert await run(engine, close_due_rounds) == 1
    again = await run(engine, lambda s: close_round(s, campaign_id, actor_id=None))
    assert not again.closed and not again.wakes_delivery
    assert await run(engine, close_due_rounds) == 0
    assert await run(engine, lambda s: answer_invitation(s, campaign_id, emp1, "more")) == (
        "more_info"
    )
    unknown = await refusal(engine, lambda s: answer_invitation(s, campaign_id, emp1, "maybe"))
    assert unknown.key == "common.button_invalid"
    stranger = await refusal(engine, lambda s: answer_invitation(s, campaign_id, emp0, "yes"))
    assert stranger.key == "campaign.not_invited"
