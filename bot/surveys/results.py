"""Results of a survey, as pure functions over rows (no database, no clock).

- `question_result`: counts and percentages per option (of those who answered the question),
  mean and distribution for scales, eNPS for 0..10 questions (promoters 9-10 minus detractors
  0-6, in percent of those who answered), open answers and "waarom?" texts with their ids, and
  the share of respondents who answered.
- `turnout`: audience, started, finished, rate and target; per department and location (reach
  = the audience in that group) and per channel (reach = those who started there), with the
  polls' rule for small groups (storage.stats.suppress: groups under 5 merged into "(other)",
  and hidden when even that is under 5).
- `crosstab`: one question by department, location or another question, with the same
  threshold applied to the number of respondents in each group.

Percentages are rounded to one decimal; a mean to two. `survey_results` puts them together
as one JSON-ready dict (`achterban survey results --format json` prints it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from storage.models import Person
from storage.stats import MIN_GROUP, OTHER, UNKNOWN, Group, suppress
from storage.survey_models import Survey, SurveyQuestion
from storage.surveys import AnswerRow, ParticipantRow, ResponseRow

SCALE_VALUES = {"scale": range(1, 6), "nps": range(0, 11)}
PROMOTER, DETRACTOR = 9, 6  # 9-10 promote, 0-6 detract


def percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def values_of(question: SurveyQuestion) -> list[tuple[int, str]]:
    """What an answer's numbers can be, with a label: option positions, or scale values."""
    if question.kind in SCALE_VALUES:
        return [(v, str(v)) for v in SCALE_VALUES[question.kind]]
    if question.kind == "open":
        return []
    return list(enumerate(question.options, start=1))


def distribution(question: SurveyQuestion, answers: Sequence[AnswerRow]) -> dict[str, Any]:
    """Counts per value, of those who answered; mean (scales) and eNPS (0..10)."""
    counts = dict.fromkeys((v for v, _ in values_of(question)), 0)
    picked: list[int] = []
    for a in answers:
        for n in a.numbers or ():
            if n in counts:
                counts[n] += 1
                picked.append(n)
    total = len(answers)
    out: dict[str, Any] = {
        "counts": [
            {"value": v, "label": label, "count": counts[v], "percent": percent(counts[v], total)}
            for v, label in values_of(question)
        ]
    }
    if question.kind in SCALE_VALUES:
        out["mean"] = round(sum(picked) / len(picked), 2) if picked else None
    if question.kind == "nps":
        promoters = sum(1 for n in picked if n >= PROMOTER)
        detractors = sum(1 for n in picked if n <= DETRACTOR)
        out["promoters"] = promoters
        out["passives"] = len(picked) - promoters - detractors
        out["detractors"] = detractors
        out["enps"] = percent(promoters - detractors, len(picked)) if picked else None
    return out


def question_result(question: SurveyQuestion, responses: Sequence[ResponseRow]) -> dict[str, Any]:
    given = [r.answers[question.id] for r in responses if question.id in r.answers]
    # A choice skipped but explained ("waarom?" after a skip) is a remark, not an answer.
    answers = [a for a in given if question.kind == "open" or a.numbers]
    result: dict[str, Any] = {
        "position": question.position,
        "kind": question.kind,
        "text": question.text,
        "responses": len(responses),
        "answered": len(answers),
        "answered_percent": percent(len(answers), len(responses)),
    }
    if question.kind == "scale":
        result["low"], result["high"] = question.low, question.high
    if question.kind == "open":
        result["answers"] = [{"id": a.id, "text": a.text} for a in answers if a.text]
        return result
    result.update(distribution(question, answers))
    if question.why:
        result["why"] = [{"id": a.id, "text": a.text} for a in given if a.text]
    return result


def _group_of(value: str | None) -> str:
    return value.strip() if value and value.strip() else UNKNOWN


def turnout(
    audience: Sequence[Person], participants: Sequence[ParticipantRow], target: int | None
) -> dict[str, Any]:
    finished = [p for p in participants if p.finished]
    rate = percent(len(finished), len(audience))
    out: dict[str, Any] = {
        "audience": len(audience),
        "started": len(participants),
        "finished": len(finished),
        "percent": rate,
        "target": target,
        "target_reached": None if target is None else rate >= target,
        "min_group": MIN_GROUP,
    }
    for dim in ("department", "location"):
        groups: dict[str, Group] = {}
        for person in audience:
            name = _group_of(getattr(person, dim))
            groups.setdefault(name, Group(name)).reach += 1
        for p in finished:
            name = _group_of(getattr(p, dim))
            groups.setdefault(name, Group(name)).responses += 1
        out[f"by_{dim}"] = suppress(groups)
    channels: dict[str, Group] = {}
    for p in participants:
        group = channels.setdefault(_group_of(p.channel), Group(_group_of(p.channel)))
        group.reach += 1
        group.responses += int(p.finished)
    out["by_channel"] = suppress(channels)
    return out


def label_groups(
    groups: Sequence[tuple[str | None, str | None]],
) -> list[tuple[str | None, str | None]]:
    """Which department and location each anonymous response may carry, so that every stored
    combination is shared by at least MIN_GROUP responses or by none (k-anonymous).

    A combination held by fewer loses its location, then its department. If the responses
    left with no label are 1 to MIN_GROUP - 1, they would be told apart from the rest (the
    register says who finished, people says their departments), so the smallest labelled
    group loses a label too, until the unlabelled ones are none or enough."""

    def norm(value: str | None) -> str | None:
        return value.strip() if value and value.strip() else None

    none: tuple[str | None, str | None] = (None, None)
    labels = [(norm(d), norm(loc)) for d, loc in groups]
    while True:
        counts = Counter(labels)
        small = {g for g, n in counts.items() if n < MIN_GROUP and g != none}
        labelled = [g for g in counts if g != none]
        if not small and 0 < counts.get(none, 0) < MIN_GROUP and labelled:
            small = {min(labelled, key=lambda g: (counts[g], str(g)))}
        if not small:
            return labels
        labels = [_coarser(g) if g in small else g for g in labels]


def _coarser(group: tuple[str | None, str | None]) -> tuple[str | None, str | None]:
    department, location = group
    return (department, None) if department and location else (None, None)


def _merge_small(groups: Mapping[str, set[int]]) -> tuple[dict[str, set[int]], int, bool]:
    """Groups (name → response ids) that may be shown, small ones merged into OTHER as
    storage.stats.suppress does; (shown, how many merged, whether the rest is hidden)."""
    shown = {k: v for k, v in groups.items() if len(v) >= MIN_GROUP}
    merged = [k for k, v in groups.items() if len(v) < MIN_GROUP]

    def rest() -> set[int]:
        return set().union(*(groups[k] for k in merged)) if merged else set()

    while 0 < len(rest()) < MIN_GROUP and shown:
        smallest = min(shown, key=lambda k: (len(shown[k]), k))
        merged.append(smallest)
        shown.pop(smallest)
    other = rest()
    hidden = 0 < len(other) < MIN_GROUP
    if len(other) >= MIN_GROUP:
        shown[OTHER] = other
    return shown, len(merged), hidden


def crosstab(
    question: SurveyQuestion, by: SurveyQuestion | str, responses: Sequence[ResponseRow]
) -> dict[str, Any]:
    """`question`'s distribution per group of `by` ("department", "location" or another
    question's answers; a multiple-choice answer puts a response in each group it chose)."""
    if question.kind == "open":
        raise ValueError("an open question has no distribution to cross")
    groups: dict[str, set[int]] = {}
    labels: dict[str, str]
    if isinstance(by, str):
        for r in responses:
            groups.setdefault(_group_of(getattr(r, by)), set()).add(r.id)
        by_name = by
    else:
        labels = {str(v): label for v, label in values_of(by)}
        for r in responses:
            for n in (r.answers[by.id].numbers or ()) if by.id in r.answers else ():
                groups.setdefault(labels.get(str(n), str(n)), set()).add(r.id)
        by_name = f"question {by.position}"
    shown, merged, hidden = _merge_small(groups)
    by_id = {r.id: r for r in responses}
    rows = []
    for name in sorted(shown, key=lambda k: (k == OTHER, k)):
        answers = [
            a
            for rid in shown[name]
            if (a := by_id[rid].answers.get(question.id)) is not None and a.numbers
        ]
        rows.append(
            {
                "group": name,
                "respondents": len(shown[name]),
                "answered": len(answers),
                **distribution(question, answers),
            }
        )
    return {
        "question": question.position,
        "text": question.text,
        "by": by_name,
        "min_group": MIN_GROUP,
        "rows": rows,
        "merged": merged,
        "hidden": hidden,
    }


def survey_results(
    survey: Survey,
    questions: Iterable[SurveyQuestion],
    responses: Sequence[ResponseRow],
    audience: Sequence[Person],
    participants: Sequence[ParticipantRow],
) -> dict[str, Any]:
    return {
        "survey": {
            "id": survey.id,
            "title": survey.title,
            "anonymous": survey.anonymous,
            "status": survey.status,
            "audience": survey.audience,
            "opens_at": survey.opens_at.isoformat(),
            "closes_at": survey.closes_at.isoformat(),
            "language": survey.language,
        },
        "responses": len(responses),
        "turnout": turnout(audience, participants, survey.turnout_target),
        "questions": [question_result(q, responses) for q in questions],
    }
