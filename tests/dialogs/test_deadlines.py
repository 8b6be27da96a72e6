"""Deadlines hold before the scheduler has run: a poll, question or nomination round whose
closing time has passed, but whose status is still 'open', takes no vote, answer or
nomination, on any path (button, typed answer, the storage call itself), and says since when
it is closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.engine import Engine
from bot.usecases.questions import open_question
from dialogs.poll import vote_payload
from storage.models import (
    Ballot,
    Nomination,
    OpenAnswer,
    Participation,
    PollOption,
    QuestionParticipation,
)
from storage.nominations import Nominations, Nominator
from storage.people import Audience
from storage.polls import VoteOutcome
from storage.questions import AnswerOutcome, Questions
from tests.support.databases import count
from tests.support.org import Org
from tests.support.polls import create_poll

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
CLOSES = START + timedelta(hours=1)
# "woensdag 25 november 2026 11:00": the closing time in the engine's zone (Europe/Amsterdam).
CLOSES_NL = "25 november 2026 11:00"
CLOSES_EN = "25 November 2026 11:00"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def clock(engine: Engine) -> Clock:
    engine.clock = Clock()
    return engine.clock


async def anonymous_counts(engine: Engine) -> int:
    async with engine.db.transaction(read_only=True) as session:
        return int((await session.execute(select(func.sum(PollOption.anonymous_count)))).scalar())


async def test_a_poll_past_its_closing_time_takes_no_vote(engine: Engine, org: Org) -> None:
    time = clock(engine)
    poll_id, options = await create_poll(engine, ["Ja", "Nee"], closes_in=timedelta(hours=1))
    await org.say("emp0", choice=vote_payload(poll_id, options[0]))  # in time
    time.now = CLOSES  # the closing time itself is too late; the scheduler has not run
    await org.say("emp2", choice=vote_payload(poll_id, options[1]))  # button
    refusal = (await org.last("emp2")).text
    assert f"Peiling {poll_id} is gesloten sinds" in refusal and CLOSES_NL in refusal
    await org.say("emp4", "Nee")  # typed label
    assert "gesloten sinds" in (await org.last("emp4")).text
    await org.say("emp1", "2")  # typed number, in English
    refusal = (await org.last("emp1")).text
    assert "has been closed since" in refusal and CLOSES_EN in refusal
    await org.say("emp0", choice=vote_payload(poll_id, options[1]))  # no change either
    assert "gesloten sinds" in (await org.last("emp0")).text
    assert await count(engine.db, Ballot) == 1


async def test_an_anonymous_poll_past_its_closing_time_counts_nothing(
    engine: Engine, org: Org
) -> None:
    time = clock(engine)
    poll_id, options = await create_poll(
        engine, ["Ja", "Nee"], anonymous=True, closes_in=timedelta(hours=1)
    )
    time.now = CLOSES + timedelta(minutes=5)
    await org.say("emp0", choice=vote_payload(poll_id, options[0]))
    assert "gesloten sinds" in (await org.last("emp0")).text
    assert await count(engine.db, Participation) == 0
    assert await anonymous_counts(engine) == 0


async def test_the_vote_itself_is_refused_in_storage(engine: Engine, org: Org) -> None:
    """Whatever calls it: `Polls.vote` and `vote_and_tally` record nothing past the deadline."""
    clock(engine)
    for anonymous in (False, True):
        poll_id, options = await create_poll(
            engine, ["A", "B"], anonymous=anonymous, closes_in=timedelta(hours=1)
        )
        async with engine.db.event() as unit:
            services = engine.services(unit)
            poll, rows, before = await services.polls.for_voter(poll_id, org.people["emp0"].id)  # type: ignore[misc]
            person = org.people["emp0"].id
            late = CLOSES + timedelta(seconds=1)
            outcome = await services.polls.vote(
                poll, person, [options[0]], "console", now=late, before=before
            )
            assert outcome is VoteOutcome.CLOSED
            outcome, _ = await services.polls.vote_and_tally(
                poll, person, [options[0]], "console", rows, now=late, before=before
            )
            assert outcome is VoteOutcome.CLOSED
    assert await count(engine.db, Ballot) == 0
    assert await count(engine.db, Participation) == 0
    assert await anonymous_counts(engine) == 0


async def make_question(engine: Engine, *, anonymous: bool) -> int:
    async with engine.db.transaction() as session:
        services = engine.services(session)
        question = await Questions(session).create(
            text="Wat kan er beter in de kantine?",
            anonymous=anonymous,
            audience=Audience(),
            closes_at=CLOSES,
            created_by=None,
            now=services.now,
        )
        await open_question(services, question, actor_id=None)
        return question.id


async def test_a_question_past_its_closing_time_takes_no_answer(engine: Engine, org: Org) -> None:
    time = clock(engine)
    for anonymous in (False, True):
        question_id = await make_question(engine, anonymous=anonymous)
        time.now = START
        # Began in time, sent after the closing time: not stored.
        await org.say("emp0", choice=f"oq:{question_id}:answer")
        time.now = CLOSES
        await org.say("emp0", "Meer fruit")
        refusal = (await org.last("emp0")).text
        assert f"Vraag {question_id} is gesloten sinds" in refusal and CLOSES_NL in refusal
        # The button after the closing time: no dialog begins.
        await org.say("emp2", choice=f"oq:{question_id}:answer")
        assert "gesloten sinds" in (await org.last("emp2")).text
        await org.say("emp2", "Dit is geen antwoord")
        # And the question is not offered again.
        await org.say("emp4", "vragen")
        assert "Wat kan er beter in de kantine?" not in (await org.last("emp4")).text
    assert await count(engine.db, OpenAnswer) == 0
    assert await count(engine.db, QuestionParticipation) == 0


async def test_the_answer_itself_is_refused_in_storage(engine: Engine, org: Org) -> None:
    clock(engine)
    question_id = await make_question(engine, anonymous=True)
    async with engine.db.transaction() as session:
        questions = Questions(session)
        question = await questions.get(question_id)
        assert question is not None and question.status == "open"
        outcome = await questions.answer(question, org.people["emp0"].id, "Laat", CLOSES)
        assert outcome is AnswerOutcome.CLOSED
    assert await count(engine.db, OpenAnswer) == 0
    assert await count(engine.db, QuestionParticipation) == 0


async def make_campaign(engine: Engine) -> int:
    async with engine.db.transaction() as session:
        created = await Nominations(session).create_campaign(
            title="OR-verkiezingen 2027",
            closes_at=CLOSES,
            anonymous=False,
            max_per_person=None,
            created_by=None,
            now=START,
        )
        return created.id


async def test_a_round_past_its_closing_time_takes_no_nomination(engine: Engine, org: Org) -> None:
    time = clock(engine)
    campaign_id = await make_campaign(engine)
    await org.say("emp0", choice=f"nom:{campaign_id}:start")
    await org.say("emp0", "emp2")
    await org.say("emp0", "Overslaan")  # the reason for this colleague
    await org.say("emp0", "Nee, verder")
    time.now = CLOSES
    await org.say("emp0", "Bevestigen")
    refusal = (await org.last("emp0")).text
    assert "gesloten sinds" in refusal and CLOSES_NL in refusal
    await org.say("emp2", choice=f"nom:{campaign_id}:start")
    assert "gesloten sinds" in (await org.last("emp2")).text
    assert await count(engine.db, Nomination) == 0


async def test_the_nomination_itself_is_refused_in_storage(engine: Engine, org: Org) -> None:
    clock(engine)
    campaign_id = await make_campaign(engine)
    async with engine.db.transaction() as session:
        nominations = Nominations(session)
        nominator = Nominator(person_id=org.people["emp0"].id)
        nominee = org.people["emp2"].id
        assert not await nominations.nominate(campaign_id, nominator, nominee, None, CLOSES)
    assert await count(engine.db, Nomination) == 0
