"""Surveys (consultations, "raadplegingen"): create, open, close, remind, answer, finish.

API (the chat dialog dialogs/survey.py, the CLI bot/cli/survey.py, the dashboard and the
scheduler call these; all run in the caller's transaction, `services` from the engine):

- `create_survey(services, SurveyDraft, actor_id=, via=) -> Created` checks every rule
  (SurveyRefused(key, field, position) with a catalogue key under `surveyrule.`), stores
  the survey and its questions, and opens it when its opening time has come.
  `SurveyDraft(title, questions=[QuestionDraft(kind, text, options, low, high, why)],
  introduction, anonymous, audience, opens_at, closes_at, remind_hours, turnout_target,
  language)`; kinds: single, multiple, scale (1..5, `low`/`high` end labels), nps (0..10),
  open.
- `open_survey`, `close_survey(services, survey, actor_id=)`, `remind(services, survey)`; the
  scheduler's jobs `due_to_open/close/remind` + `open_one/close_one/remind_one` (EachDue).
- Answering: `begin(services, survey_id, person, channel) -> Answering` (refused when not
  found, not open, closed, not in the audience or already finished); `record(services,
  answering, position, Given)` after `check_answer(question, Given)`; `finish(services,
  answering) -> Finished`. Answers so far are sealed in the register (bot/surveys/progress.py).
- Results: `results(services, survey_id) -> dict` (bot/surveys/results.py over the rows:
  per question, turnout with groups under 5 merged) and `crosstab(services, survey_id,
  position, by)` with `by` "department", "location" or another question's position;
  `named_answers(services, survey_id)` per person, for named surveys only. Read responses
  through `responses(services, survey)`, never storage's raw rows (their groups are sealed).

Anonymous surveys: the register says who started and finished (no answer, no time); a
finished respondent's answers become one response with a random id, no person, no time;
its department and location stay sealed while the survey is open, and closing writes them in
the clear only for groups of 5 or more respondents (`responses` applies the same rule to
interim results; docs/privacy.md, "Raadplegingen").
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from bot.conversation import Services
from bot.i18n import t
from bot.messages import Outgoing, Purpose
from bot.surveys import results as survey_results
from bot.surveys.progress import Given, Progress, open_groups, seal, seal_groups, sealer_of, unseal
from bot.surveys.render import invitation
from bot.usecases.survey_rules import (
    CHOICE_KINDS,
    KINDS,
    LIMITS,
    MAX_QUESTIONS,
    MULTIPLE,
    NPS,
    NPS_RANGE,
    OPEN_TEXT,
    SCALE,
    SCALE_RANGE,
    SINGLE,
    QuestionDraft,
    SurveyDraft,
    SurveyRefused,
    check_answer,
    check_draft,
    check_question,
)
from storage.models import Person
from storage.people import Audience
from storage.survey_models import Survey, SurveyQuestion
from storage.surveys import CLOSED, OPEN, SCHEDULED, ResponseRow, Surveys

__all__ = [
    "CHOICE_KINDS", "KINDS", "LIMITS", "MAX_QUESTIONS", "MULTIPLE", "NPS", "NPS_RANGE",
    "OPEN_TEXT", "SCALE", "SCALE_RANGE", "SINGLE", "Answering", "Created", "Finished",
    "QuestionDraft", "SurveyDraft", "SurveyRefused", "begin", "check_answer", "check_draft",
    "check_question", "close_survey", "create_survey", "crosstab", "finish", "named_answers",
    "open_survey", "record", "remind", "responses", "results",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Created:
    survey: Survey
    sent: int

    @property
    def wake(self) -> bool:
        return self.sent > 0


@dataclass
class Answering:
    """One person answering one open survey: what `record` and `finish` work on."""

    survey: Survey
    questions: list[SurveyQuestion]
    person: Person
    channel: str
    progress: Progress


@dataclass(frozen=True, slots=True)
class Finished:
    response_id: int
    given: dict[int, Given]  # per position, for the person's own summary (one reply)


# --- create, open, close, remind -------------------------------------------------------


async def create_survey(
    services: Services, draft: SurveyDraft, *, actor_id: int | None, via: str | None = None
) -> Created:
    """Check the draft, store it, and open it (sending invitations) when its time has come."""
    title, intro, questions = check_draft(draft, services.now)
    if not await services.people.audience_ids(draft.audience):
        raise SurveyRefused("surveyrule.audience_empty", "audience")
    opens_at = draft.opens_at or services.now
    survey = Survey(
        title=title,
        introduction=intro,
        anonymous=draft.anonymous,
        audience=draft.audience.to_dict(),
        status=SCHEDULED,
        opens_at=opens_at,
        closes_at=draft.closes_at,
        remind_hours=draft.remind_hours,
        turnout_target=draft.turnout_target,
        language=draft.language,
        created_by=actor_id,
    )
    await Surveys(services.session).create(survey, questions)
    where = {"via": via} if via else {}
    await services.audit(
        "survey.created", actor_id=actor_id, subject=f"survey:{survey.id}", **where
    )
    sent = await open_survey(services, survey, actor_id=actor_id) if opens_at <= services.now else 0
    return Created(survey, sent)


async def open_survey(services: Services, survey: Survey, *, actor_id: int | None = None) -> int:
    """scheduled → open and an invitation to everyone in the audience; once across processes."""
    audience_ids = await services.people.audience_ids(Audience.from_dict(survey.audience))
    repo = Surveys(services.session)
    if not await repo.mark_open(survey.id, len(audience_ids)):
        return 0
    survey.status, survey.audience_size = OPEN, len(audience_ids)
    count = len(await repo.questions(survey.id))
    sent = await services.notify_many(
        audience_ids, lambda p: invitation(services, survey, count, p.language), prompt=True
    )
    await services.audit(
        "survey.opened",
        actor_id=actor_id,
        subject=f"survey:{survey.id}",
        audience=len(audience_ids),
    )
    return sent


async def close_survey(services: Services, survey: Survey, *, actor_id: int | None = None) -> bool:
    """open → closed. An anonymous survey's responses get the groups they may show (5 or more
    respondents). Those who started and did not finish are told their answers were not
    counted, and their sealed progress is erased (it would only wait there)."""
    repo = Surveys(services.session)
    if not await repo.mark_closed(survey.id, services.now):
        return False
    survey.status, survey.closed_at = CLOSED, services.now
    # Anonymous: the groups that may be shown are decided now, for all responses at once,
    # and written in the clear; the seals go (docs/privacy.md).
    if survey.anonymous:
        labelled = await responses(services, survey)
        await repo.label({r.id: (r.department, r.location) for r in labelled})
    unfinished = [p.person_id for p in await repo.participants(survey.id) if not p.finished]
    for person_id in unfinished:
        await repo.save_progress(survey.id, person_id, None)
    await services.notify_many(
        unfinished,
        lambda p: Outgoing(
            t(p.language, "survey.closed_unfinished", id=survey.id, title=survey.title),
            purpose=Purpose.NOTICE,
        ),
    )
    await services.audit("survey.closed", actor_id=actor_id, subject=f"survey:{survey.id}")
    return True


async def remind(services: Services, survey: Survey) -> int:
    """One reminder to everyone in the audience who has not finished (once per survey)."""
    repo = Surveys(services.session)
    if not await repo.mark_reminded(survey.id, services.now):
        return 0
    audience_ids = await services.people.audience_ids(Audience.from_dict(survey.audience))
    done = await repo.finisher_ids(survey.id)
    count = len(await repo.questions(survey.id))
    sent = await services.notify_many(
        [pid for pid in audience_ids if pid not in done],
        lambda p: invitation(services, survey, count, p.language, reminder=True),
        prompt=True,
    )
    await services.audit("survey.reminded", subject=f"survey:{survey.id}", sent=sent)
    return sent


async def due_to_open(services: Services) -> list[int]:
    return await Surveys(services.session).due_to_open(services.now)


async def due_to_close(services: Services) -> list[int]:
    return await Surveys(services.session).due_to_close(services.now)


async def due_to_remind(services: Services) -> list[int]:
    repo = Surveys(services.session)
    closing = set(await repo.due_to_close(services.now))
    return [s for s in await repo.due_for_reminder(services.now) if s not in closing]


async def open_one(services: Services, survey_id: int) -> int:
    survey = await Surveys(services.session).get(survey_id)
    return int(survey is not None and await open_survey(services, survey) > 0)


async def close_one(services: Services, survey_id: int) -> int:
    survey = await Surveys(services.session).get(survey_id)
    return int(survey is not None and await close_survey(services, survey))


async def remind_one(services: Services, survey_id: int) -> int:
    survey = await Surveys(services.session).get(survey_id)
    return int(survey is not None and await remind(services, survey) > 0)


# --- answering --------------------------------------------------------------------------


async def begin(services: Services, survey_id: int, person: Person, channel: str) -> Answering:
    """Start or resume: the survey, its questions and the person's answers so far."""
    repo = Surveys(services.session)
    survey = await repo.get(survey_id)
    if survey is None:
        raise SurveyRefused("survey.not_found", "survey", id=survey_id)
    if survey.status == SCHEDULED:
        raise SurveyRefused("survey.not_open_yet", "survey", id=survey_id)
    if survey.status != OPEN or survey.closes_at <= services.now:
        raise SurveyRefused("survey.closed", "survey", id=survey_id)
    if not Audience.from_dict(survey.audience).includes(person):
        raise SurveyRefused("survey.not_in_audience", "survey", id=survey_id)
    registered = await repo.participation(survey_id, person.id)
    if registered is not None and registered.finished:
        raise SurveyRefused("survey.already_finished", "survey", id=survey_id)
    if registered is None:
        await repo.take_part(survey_id, person.id, channel)
    progress = unseal(sealer_of(services.pseudonym), registered.progress if registered else None)
    return Answering(survey, await repo.questions(survey_id), person, channel, progress)


async def record(services: Services, answering: Answering, position: int, given: Given) -> None:
    """Keep one answer (checked) in the person's sealed progress."""
    question = next((q for q in answering.questions if q.position == position), None)
    if question is None:
        raise SurveyRefused("surveyrule.answer_missing", "answer", position)
    answering.progress.given[position] = check_answer(question, given)
    token = seal(sealer_of(services.pseudonym), answering.progress)
    await Surveys(services.session).save_progress(
        answering.survey.id, answering.person.id, token, answering.channel
    )


async def finish(services: Services, answering: Answering) -> Finished:
    """Every question answered or skipped: write the response (anonymous: without the
    person) and mark them finished, in one step that only the first call takes."""
    survey, progress = answering.survey, answering.progress
    if progress.next_position(len(answering.questions)) is not None:
        raise SurveyRefused("survey.not_complete", "answer")
    if survey.closes_at <= services.now:
        raise SurveyRefused("survey.closed", "survey", id=survey.id)
    by_position = {q.position: q for q in answering.questions}
    answers = {
        by_position[pos].id: (g.numbers, g.text)
        for pos, g in progress.given.items()
        if not g.skipped and pos in by_position
    }
    person, repo = answering.person, Surveys(services.session)
    # Anonymous: the groups stay sealed until closing decides which may be shown (module).
    sealed = seal_groups(services.pseudonym, person.department, person.location)
    response_id = await repo.finish(
        survey,
        person.id,
        answering.channel,
        answers,
        department=None if survey.anonymous else person.department,
        location=None if survey.anonymous else person.location,
        groups_sealed=sealed if survey.anonymous else None,
        # Anonymous: the survey's opening day, not the day of finishing, which the outbox's
        # metadata (who was sent the questions when) would match to its author.
        today=(survey.opens_at if survey.anonymous else services.now)
        .astimezone(services.settings.timezone)
        .date(),
    )
    if response_id is None:
        raise SurveyRefused("survey.already_finished", "survey", id=survey.id)
    return Finished(response_id, dict(progress.given))


# --- results ----------------------------------------------------------------------------


async def responses(services: Services, survey: Survey) -> list[ResponseRow]:
    """The survey's responses with the groups they may show: an open anonymous survey's are
    opened from their seals and labelled by the rule of closing (label_groups)."""
    rows = await Surveys(services.session).responses(survey.id)
    if not any(r.sealed for r in rows):
        return rows
    opened = [
        open_groups(services.pseudonym, r.sealed) if r.sealed else (r.department, r.location)
        for r in rows
    ]
    labels = survey_results.label_groups(opened)
    return [
        replace(r, department=d, location=loc, sealed=None)
        for r, (d, loc) in zip(rows, labels, strict=True)
    ]


async def results(services: Services, survey_id: int) -> dict[str, Any]:
    """Everything the dashboard, the CLI and the chat show (bot/surveys/results.py)."""
    repo = Surveys(services.session)
    survey = await repo.get(survey_id)
    if survey is None:
        raise SurveyRefused("survey.not_found", "survey", id=survey_id)
    questions = await repo.questions(survey_id)
    rows = await responses(services, survey)
    audience = await services.people_by_ids(
        await services.people.audience_ids(Audience.from_dict(survey.audience))
    )
    return survey_results.survey_results(
        survey, questions, rows, audience, await repo.participants(survey_id)
    )


async def named_answers(services: Services, survey_id: int) -> list[dict[str, Any]]:
    """A named survey's answers per person (name, answers by question position); an
    anonymous survey has none to give (its responses know nobody): refused."""
    repo = Surveys(services.session)
    survey = await repo.get(survey_id)
    if survey is None:
        raise SurveyRefused("survey.not_found", "survey", id=survey_id)
    if survey.anonymous:
        raise SurveyRefused("survey.anonymous_no_names", "survey", id=survey_id)
    questions = {q.id: q for q in await repo.questions(survey_id)}
    out = []
    for name, answers in await repo.named_responses(survey_id):
        given = {
            questions[qid].position: {"numbers": numbers, "text": text}
            for qid, (numbers, text) in answers.items()
            if qid in questions
        }
        out.append({"name": name, "answers": given})
    return out


async def crosstab(services: Services, survey_id: int, position: int, by: str) -> dict[str, Any]:
    """One question by department, location or another question (its position)."""
    repo = Surveys(services.session)
    questions = {q.position: q for q in await repo.questions(survey_id)}
    if position not in questions:
        raise SurveyRefused("survey.no_such_question", "position", position)
    other: SurveyQuestion | str = by
    if by not in ("department", "location"):
        number = int(by) if by.isdecimal() else 0
        if number not in questions or number == position:
            raise SurveyRefused("survey.no_such_question", "by", number)
        other = questions[number]
    survey = await repo.get(survey_id)
    assert survey is not None  # it has questions
    if questions[position].kind == OPEN_TEXT:
        raise SurveyRefused("survey.crosstab_open", "position", position)
    rows = await responses(services, survey)
    return survey_results.crosstab(questions[position], other, rows)
