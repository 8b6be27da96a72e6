"""The survey use case: each rule once, opening, the register, sealed progress, finishing
once, closing, reminding, and the results computed from the rows."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.engine import Engine
from bot.scheduler import Scheduler
from bot.surveys.progress import Given
from bot.usecases import surveys as survey_cases
from bot.usecases.surveys import QuestionDraft, SurveyDraft
from storage.models import Person
from storage.people import Audience
from storage.survey_models import SurveyParticipation, SurveyResponse
from storage.surveys import Surveys
from tests.support.org import Org
from tests.support.usecases import refusal, run
from tests.surveys.support import QUESTIONS, answer_all, make_survey


def _draft(services, **kw):  # type: ignore[no-untyped-def]
    base = {"title": "T", "questions": QUESTIONS, "closes_at": services.now + timedelta(days=1)}
    return SurveyDraft(**{**base, **kw})


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"title": " "}, "surveyrule.title_length"),
        ({"questions": ()}, "surveyrule.question_count"),
        ({"questions": QUESTIONS * 3}, "surveyrule.question_count"),
        ({"questions": (QuestionDraft("poll", "x"),)}, "surveyrule.kind_unknown"),
        ({"questions": (QuestionDraft("single", "x", ("a",)),)}, "surveyrule.option_count"),
        ({"questions": (QuestionDraft("single", "x", ("a", "A")),)}, "surveyrule.option_duplicate"),
        ({"questions": (QuestionDraft("scale", "x", low="a"),)}, "surveyrule.scale_labels"),
        ({"questions": (QuestionDraft("open", "x", why=True),)}, "surveyrule.why_open"),
        ({"questions": (QuestionDraft("nps", "x", ("a", "b")),)}, "surveyrule.options_not_allowed"),
        ({"closes_at": None}, "surveyrule.closes_missing"),
        ({"turnout_target": 0}, "surveyrule.target_range"),
        ({"remind_hours": 0}, "surveyrule.remind_hours"),
        ({"audience": Audience(department="Nergens")}, "surveyrule.audience_empty"),
    ],
)
async def test_each_rule_is_refused_with_its_key(engine: Engine, org: Org, change, key) -> None:  # type: ignore[no-untyped-def]
    refused = await refusal(
        engine,
        lambda s: survey_cases.create_survey(s, _draft(s, **change), actor_id=None),
    )
    assert refused.key == key


async def test_created_survey_opens_and_invites_the_audience(engine: Engine, org: Org) -> None:
    survey_id = await make_survey(engine, audience=Audience(department="Productie"))
    invitation = await org.last("emp0")
    assert f"Raadpleging {survey_id}" in invitation.text
    assert "5 vragen, ongeveer 2 minuten" in invitation.text
    assert [c.payload for c in invitation.choices] == [f"svy:{survey_id}:start"]
    assert await org.outbox("emp1") == []  # Logistiek


async def test_anonymous_response_has_no_person_and_progress_is_sealed(
    engine: Engine, org: Org
) -> None:
    survey_id = await make_survey(engine)
    emp0 = org.people["emp0"]

    async def partly(services):  # type: ignore[no-untyped-def]
        answering = await survey_cases.begin(services, survey_id, emp0, "slack")
        await survey_cases.record(services, answering, 1, Given([2], "Te duur-geheim"))

    await run(engine, partly)
    async with engine.db.transaction(read_only=True) as session:
        row = (await session.execute(select(SurveyParticipation))).scalar_one()
    assert row.person_id == emp0.id and not row.finished
    assert row.progress and "geheim" not in row.progress and "Te duur" not in row.progress

    async def resume(services):  # type: ignore[no-untyped-def]
        answering = await survey_cases.begin(services, survey_id, emp0, "teams")
        return answering.progress.given

    given = await run(engine, resume)
    assert given == {1: Given([2], "Te duur-geheim")}
    answers = [
        Given([2], "Te duur-geheim"),
        Given([1, 3]),
        Given([4]),
        Given([9]),
        Given(None, "x"),
    ]
    await answer_all(engine, survey_id, emp0, answers)
    async with engine.db.transaction(read_only=True) as session:
        row = (await session.execute(select(SurveyParticipation))).scalar_one()
        response = (await session.execute(select(SurveyResponse))).scalar_one()
    assert row.finished and row.progress is None and row.channel == "web"
    assert response.person_id is None
    # Productie has 4 of the 10 people: fewer than 5, so the response does not keep it.
    assert response.department is None
    refused = await refusal(engine, lambda s: survey_cases.begin(s, survey_id, emp0, "web"))
    assert refused.key == "survey.already_finished"


async def test_answers_are_checked(engine: Engine, org: Org) -> None:
    survey_id = await make_survey(engine)
    emp0 = org.people["emp0"]
    for position, given, key in [
        (1, Given([4]), "surveyrule.answer_range"),
        (1, Given([1, 2]), "surveyrule.answer_one"),
        (2, Given([1], "why"), "surveyrule.why_length"),
        (3, Given([6]), "surveyrule.answer_range"),
        (4, Given([11]), "surveyrule.answer_range"),
        (5, Given(None, " "), "surveyrule.answer_length"),
    ]:

        async def go(services, position=position, given=given):  # type: ignore[no-untyped-def]
            answering = await survey_cases.begin(services, survey_id, emp0, "web")
            await survey_cases.record(services, answering, position, given)

        assert (await refusal(engine, go)).key == key

    async def early(services):  # type: ignore[no-untyped-def]
        answering = await survey_cases.begin(services, survey_id, emp0, "web")
        await survey_cases.finish(services, answering)

    assert (await refusal(engine, early)).key == "survey.not_complete"


async def test_results_turnout_and_crosstab(engine: Engine, org: Org) -> None:
    survey_id = await make_survey(engine)
    people = [org.people[k] for k in ("olga", "mo", "emp0", "emp1", "emp2", "emp3", "emp4")]
    picks = [
        [Given([1], "Goed plan"), Given([1, 2]), Given([2]), Given([10]), Given(None, "A")],
        [Given([1]), Given([2]), Given([4]), Given([9]), Given()],
        [Given([2], "Te duur"), Given([3]), Given([5]), Given([3]), Given(None, "B")],
        [Given([1]), Given([1]), Given([3]), Given([7]), Given()],
        [Given(), Given([1, 3]), Given([4]), Given([0]), Given(None, "C")],
        [Given([3]), Given([2]), Given([1]), Given([10]), Given()],
    ]
    for person, answers in zip(people, picks, strict=False):
        await answer_all(engine, survey_id, person, answers, channel="slack")
    result = await run(engine, lambda s: survey_cases.results(s, survey_id))
    q1, q2, q3, q4, q5 = result["questions"]
    assert result["responses"] == 6
    assert q1["answered"] == 5 and q1["answered_percent"] == 83.3
    assert [c["count"] for c in q1["counts"]] == [3, 1, 1]
    assert [c["percent"] for c in q1["counts"]] == [60.0, 20.0, 20.0]
    assert sorted(w["text"] for w in q1["why"]) == ["Goed plan", "Te duur"]
    assert [c["count"] for c in q2["counts"]] == [3, 3, 2]
    assert q3["mean"] == round((2 + 4 + 5 + 3 + 4 + 1) / 6, 2)
    assert [c["count"] for c in q3["counts"]] == [1, 1, 1, 2, 1]
    # promoters 10, 9, 10 (3 of 6 = 50%), detractors 3, 0 (2 of 6 = 33.3%)
    assert (q4["promoters"], q4["passives"], q4["detractors"]) == (3, 1, 2)
    assert q4["enps"] == 16.7
    assert sorted(a["text"] for a in q5["answers"]) == ["A", "B", "C"]
    turnout = result["turnout"]
    assert (turnout["audience"], turnout["started"], turnout["finished"]) == (10, 6, 6)
    assert turnout["percent"] == 60.0
    # Slack: 6 who started there, all finished (a group of 6 is shown).
    assert turnout["by_channel"]["groups"] == [
        {"group": "slack", "reach": 6, "responses": 6, "response_rate": 1.0}
    ]
    # Kantoor 2, Productie 4, Logistiek 4: all under 5, merged into one (other) of 10.
    assert turnout["by_department"]["groups"] == [
        {"group": "(other)", "reach": 10, "responses": 6, "response_rate": 0.6}
    ]
    cross = await run(engine, lambda s: survey_cases.crosstab(s, survey_id, 3, "1"))
    # By question 1: Ja has 3 respondents, Nee 1, Weet niet 1: each under 5, so all three
    # are merged into one group of 5 (the one who skipped question 1 is in none).
    assert [(r["group"], r["respondents"]) for r in cross["rows"]] == [("(other)", 5)]
    assert cross["merged"] == 3 and cross["hidden"] is False
    by_dept = await run(engine, lambda s: survey_cases.crosstab(s, survey_id, 1, "department"))
    # Anonymous: no response kept a department (no department has 5 people in the audience),
    # so all 6 are in "(unknown)".
    assert [(r["group"], r["respondents"]) for r in by_dept["rows"]] == [("(unknown)", 6)]
    assert [c["count"] for c in by_dept["rows"][0]["counts"]] == [3, 1, 1]


async def test_scheduler_opens_reminds_and_closes_once(engine: Engine, org: Org) -> None:
    start = engine.clock()

    async def scheduled(services):  # type: ignore[no-untyped-def]
        created = await survey_cases.create_survey(
            services,
            _draft(
                services,
                opens_at=services.now + timedelta(hours=1),
                closes_at=services.now + timedelta(hours=5),
                remind_hours=3,
            ),
            actor_id=None,
        )
        assert created.sent == 0
        return created.survey.id

    survey_id = await run(engine, scheduled)
    assert await org.outbox("emp2") == []
    engine.clock = lambda: start + timedelta(hours=1, minutes=1)
    await Scheduler(engine).tick()
    await Scheduler(engine).tick()
    assert len(await org.outbox("emp2")) == 1  # opened once
    emp0, emp2 = org.people["emp0"], org.people["emp2"]
    await answer_all(
        engine, survey_id, emp0, [Given([1]), Given([1]), Given([1]), Given([1]), Given()]
    )

    async def partly(services):  # type: ignore[no-untyped-def]
        answering = await survey_cases.begin(services, survey_id, emp2, "web")
        await survey_cases.record(services, answering, 1, Given([2]))

    await run(engine, partly)
    engine.clock = lambda: start + timedelta(hours=2, minutes=1)
    await Scheduler(engine).tick()
    await Scheduler(engine).tick()
    reminders = (await org.outbox("emp2"))[1:]
    assert len(reminders) == 1 and "Herinnering" in reminders[0].text
    assert not any("Herinnering" in m.text for m in await org.outbox("emp0"))
    engine.clock = lambda: start + timedelta(hours=5, minutes=1)
    await Scheduler(engine).tick()
    await Scheduler(engine).tick()
    closing = (await org.outbox("emp2"))[2:]
    assert len(closing) == 1 and "niet meegeteld" in closing[0].text
    async with engine.db.transaction(read_only=True) as session:
        rows = (await session.execute(select(SurveyParticipation))).scalars().all()
    assert {(r.person_id, r.finished, r.progress) for r in rows} == {
        (emp0.id, True, None),
        (emp2.id, False, None),
    }
    result = await run(engine, lambda s: survey_cases.results(s, survey_id))
    assert result["survey"]["status"] == "closed" and result["responses"] == 1


async def test_anonymous_groups_are_sealed_until_closing_and_kept_for_five_or_more(
    engine: Engine, org: Org
) -> None:
    async with engine.db.transaction() as session:
        for n in range(2):  # Productie: emp0, emp2, emp4, emp6 and these two
            session.add(Person(name=f"Extra{n}", email=f"extra{n}@example.org",
                               department="Productie", location="Ergens"))  # fmt: skip
    survey_id = await make_survey(engine)
    answers = [Given([1]), Given([1]), Given([3]), Given([8]), Given()]
    extra = await run(engine, lambda s: s.people.by_email("extra0@example.org"))
    finishers = [org.people[k] for k in ("emp0", "emp2", "emp4", "emp6", "emp1")] + [extra]
    for person in finishers:  # five of Productie, one of Logistiek
        await answer_all(engine, survey_id, person, answers)
    async with engine.db.transaction(read_only=True) as session:
        rows = (await session.execute(select(SurveyResponse))).scalars().all()
    # While open: no group in the clear, and six tokens that are all different.
    assert {(r.department, r.location) for r in rows} == {(None, None)}
    assert len({r.groups_sealed for r in rows}) == 6 and all(r.groups_sealed for r in rows)
    assert not any("Productie" in (r.groups_sealed or "") for r in rows)
    by_dept = await run(engine, lambda s: survey_cases.crosstab(s, survey_id, 1, "department"))
    # Productie's 5 are opened from the seals, but with them the one Logistiek respondent
    # would stand alone: no response keeps its department (bot.surveys.results.label_groups).
    assert [(r["group"], r["respondents"]) for r in by_dept["rows"]] == [("(unknown)", 6)]
    survey = await run(engine, lambda s: Surveys(s.session).get(survey_id))

    async def close(services):  # type: ignore[no-untyped-def]
        return await survey_cases.close_survey(services, survey)

    assert await run(engine, close)
    async with engine.db.transaction(read_only=True) as session:
        rows = (await session.execute(select(SurveyResponse))).scalars().all()
    # Productie's 5 alone would leave one response without a department, and the register
    # and the roster name its author (the one finisher of Logistiek): none keeps a label.
    assert sorted(str(r.department) for r in rows) == ["None"] * 6
    # Locations: Eindhoven/Tilburg alternate by roster order and Ergens is one person's; no
    # location has 5 respondents, so none is kept.
    assert {r.location for r in rows} == {None} and {r.groups_sealed for r in rows} == {None}
    named = await refusal(engine, lambda s: survey_cases.named_answers(s, survey_id))
    assert named.key == "survey.anonymous_no_names"


async def test_named_answers_per_person(engine: Engine, org: Org) -> None:
    survey_id = await make_survey(engine, anonymous=False)
    answers = [Given([2], "Duur"), Given([1, 3]), Given([3]), Given([8]), Given(None, "Tekst")]
    await answer_all(engine, survey_id, org.people["emp0"], answers)
    named = await run(engine, lambda s: survey_cases.named_answers(s, survey_id))
    assert named == [
        {
            "name": "Emp0",
            "answers": {
                1: {"numbers": [2], "text": "Duur"},
                2: {"numbers": [1, 3], "text": None},
                3: {"numbers": [3], "text": None},
                4: {"numbers": [8], "text": None},
                5: {"numbers": None, "text": "Tekst"},
            },
        }
    ]


async def test_anonymous_response_carries_the_opening_day_not_the_finishing_day(
    engine: Engine, org: Org
) -> None:
    start = engine.clock()
    survey_id = await make_survey(engine)
    named_id = await make_survey(engine, anonymous=False)
    engine.clock = lambda: start + timedelta(days=2)
    answers = [Given([1]), Given([1]), Given([3]), Given([8]), Given()]
    await answer_all(engine, survey_id, org.people["emp0"], answers)
    await answer_all(engine, named_id, org.people["emp0"], answers)
    async with engine.db.transaction(read_only=True) as session:
        days = dict(
            (
                await session.execute(select(SurveyResponse.survey_id, SurveyResponse.finished_on))
            ).all()
        )
    tz = engine.settings.timezone
    assert days[survey_id] == start.astimezone(ZoneInfo(tz)).date()
    assert days[named_id] == (start + timedelta(days=2)).astimezone(ZoneInfo(tz)).date()
