"""`achterban question themes ID`: the themes of a question's answers, on both backends."""

from __future__ import annotations

from datetime import date

from bot.engine import Engine
from bot.surveys.progress import Given
from bot.usecases import surveys as survey_cases
from storage.models import OpenAnswer
from tests.cli.test_cli_jobs import Cli, add, cli  # noqa: F401 (the fixture)
from tests.support.org import Org
from tests.support.usecases import run
from tests.surveys.support import answer_all, make_survey
from tests.test_themes import CANTEEN, ODD, PAY


async def test_question_themes_json_and_table(cli: Cli, org: Org, engine: Engine) -> None:  # noqa: F811
    question_id = (
        await cli.json("question", "create", "--text", "Wat moet beter?", "--anonymous")
    )["id"]
    today = date.today()
    await add(
        engine,
        *(
            OpenAnswer(question_id=question_id, person_id=None, text=text, answered_on=today)
            for text in PAY + CANTEEN + ODD
        ),
    )
    listed = await cli.json("question", "answers", str(question_id))
    ids = {a["text"]: a["id"] for a in listed["answers"]}
    body = await cli.json("question", "themes", str(question_id))
    assert body["id"] == question_id and body["answers"] == len(ids)
    themes = body["themes"]
    # Every answer id that `question answers` shows is in exactly one theme.
    assert sorted(i for th in themes for i in th["answers"]) == sorted(ids.values())
    pay = next(th for th in themes if {ids[t] for t in PAY} <= set(th["answers"]))
    assert pay["count"] == len(PAY) and pay["sentiment"] == "negative"
    assert "salaris" in pay["terms"] or "loon" in pay["terms"]
    assert pay["label"] and set(pay["examples"]) <= set(pay["answers"])
    assert 2 <= len(pay["examples"]) <= 3
    other = themes[-1]
    assert other["other"] and other["label"] == "overig"  # the operator's locale, nl
    assert {ids[t] for t in ODD} <= set(other["answers"])
    assert set(pay) == {
        "label",
        "other",
        "terms",
        "count",
        "sentiment",
        "sentiment_counts",
        "examples",
        "answers",
    }
    assert sum(pay["sentiment_counts"].values()) == pay["count"]
    assert pay["sentiment_counts"]["negative"] > pay["sentiment_counts"]["positive"]
    table = await cli("question", "themes", str(question_id))
    assert table.exit_code == 0 and "overig" in table.stdout and "negatief" in table.stdout
    missing = await cli("question", "themes", "999999")
    assert missing.exit_code != 0


async def test_themes_of_a_survey_question(cli: Cli, org: Org, engine: Engine) -> None:  # noqa: F811
    """`--survey S`: ID is a question's number in survey S; the ids are `survey results`'."""
    survey_id = await make_survey(engine)
    texts = PAY[:5] + CANTEEN[:5]
    for person, text in zip(org.people.values(), texts, strict=True):
        await answer_all(
            engine,
            survey_id,
            person,
            [Given([1]), Given([1]), Given([3]), Given([8]), Given(text=text)],
        )
    result = await run(engine, lambda s: survey_cases.results(s, survey_id))
    shown = {a["id"]: a["text"] for a in result["questions"][4]["answers"]}
    body = await cli.json("question", "themes", "5", "--survey", str(survey_id))
    assert body["survey"] == survey_id and body["question"] == "Wat moet de OR weten?"
    assert body["answers"] == len(texts)
    assert sorted(i for th in body["themes"] for i in th["answers"]) == sorted(shown)
    named = [th for th in body["themes"] if not th["other"]]
    assert named and all(th["count"] >= 5 for th in named)
    missing = await cli("question", "themes", "9", "--survey", str(survey_id))
    assert missing.exit_code != 0
