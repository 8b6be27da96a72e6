"""The results functions on plain rows (no database): eNPS, means, the share who answered, and
the rule for small groups in turnout and cross-tabs."""

from __future__ import annotations

from bot.surveys.results import crosstab, label_groups, question_result, turnout
from storage.models import Person
from storage.survey_models import SurveyQuestion
from storage.surveys import AnswerRow, ParticipantRow, ResponseRow

SINGLE = SurveyQuestion(
    id=1, position=1, kind="single", text="Steun?", options=["Ja", "Nee"], why=False
)
NPS = SurveyQuestion(id=2, position=2, kind="nps", text="Aanraden?", options=[], why=False)


def response(rid: int, dept: str | None, single: int | None, nps: int | None) -> ResponseRow:
    answers = {}
    if single is not None:
        answers[1] = AnswerRow(rid * 10 + 1, 1, [single], None)
    if nps is not None:
        answers[2] = AnswerRow(rid * 10 + 2, 2, [nps], None)
    return ResponseRow(rid, dept, None, answers)


def test_enps_counts_promoters_minus_detractors_of_those_who_answered() -> None:
    rows = [response(i, None, None, n) for i, n in enumerate([10, 9, 8, 7, 6, 0, 9], start=1)]
    rows.append(response(99, None, 1, None))  # did not answer the 0-10 question
    result = question_result(NPS, rows)
    assert (result["promoters"], result["passives"], result["detractors"]) == (3, 2, 2)
    assert result["enps"] == 14.3  # (3 - 2) of 7, not the difference of two rounded shares
    assert result["answered"] == 7 and result["answered_percent"] == 87.5
    assert result["mean"] == round((10 + 9 + 8 + 7 + 6 + 0 + 9) / 7, 2)
    assert question_result(NPS, [response(1, None, 1, None)])["enps"] is None


def test_crosstab_by_department_shows_groups_of_five_and_merges_the_rest() -> None:
    rows = [response(i, "Productie", 1 + i % 2, None) for i in range(6)]
    rows += [response(10 + i, "Kantoor", 1, None) for i in range(3)]
    rows += [response(20 + i, "Logistiek", 2, None) for i in range(2)]
    table = crosstab(SINGLE, "department", rows)
    assert [(r["group"], r["respondents"]) for r in table["rows"]] == [
        ("Productie", 6), ("(other)", 5),
    ]  # fmt: skip
    assert [c["count"] for c in table["rows"][1]["counts"]] == [3, 2]
    assert table["merged"] == 2 and table["hidden"] is False
    # Kantoor alone (3) would be shown as "(other)" under 5: it takes the smallest shown group.
    fewer = crosstab(SINGLE, "department", rows[:9])
    assert [(r["group"], r["respondents"]) for r in fewer["rows"]] == [("(other)", 9)]
    assert crosstab(SINGLE, "department", rows[:4])["hidden"] is True


def test_turnout_per_department_merges_small_groups() -> None:
    audience = [Person(id=i, name=f"P{i}", department="A" if i < 6 else "B") for i in range(8)]
    done = [ParticipantRow(i, i % 2 == 0, "slack", "A" if i < 6 else "B", None) for i in range(7)]
    result = turnout(audience, done, target=50)
    assert (result["audience"], result["started"], result["finished"]) == (8, 7, 4)
    assert result["percent"] == 50.0 and result["target_reached"] is True
    # B has 2 people: merged with the smallest shown group (A, 6) into "(other)" of 8.
    assert result["by_department"]["groups"] == [
        {"group": "(other)", "reach": 8, "responses": 4, "response_rate": 0.5}
    ]
    assert result["by_channel"]["groups"] == [
        {"group": "slack", "reach": 7, "responses": 4, "response_rate": 0.5714}
    ]


def test_labels_need_five_alone_and_together() -> None:
    groups = [("A", "X")] * 5 + [("A", "Y")] * 3 + [("B", "Y")] * 2 + [(" ", None)]
    labelled = label_groups(groups)
    # (A, X) has 5 and stays; (A, Y) with 3 and (B, Y) with 2 lose their labels, one at a
    # time, and end with the unlabelled one: 6 without labels, none of them told apart.
    assert labelled == [("A", "X")] * 5 + [(None, None)] * 6


def test_no_stored_combination_narrows_to_fewer_than_five() -> None:
    """A small leftover of unlabelled responses would be told apart too: the register says
    who finished and the roster their department (the privacy review's two cases)."""
    assert label_groups([("A", None)] * 5 + [("X", None)]) == [(None, None)] * 6
    mixed = [("A", "L1")] * 5 + [("A", "L2")] + [("B", "L2")] * 5
    labelled = label_groups(mixed)
    counts = {g: labelled.count(g) for g in set(labelled)}
    assert all(n >= 5 for n in counts.values()), counts
    assert label_groups([("A", "L1")] * 7) == [("A", "L1")] * 7
