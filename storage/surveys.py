"""Surveys (consultations): their questions, the participation register, responses, answers.

The rules (what may be created, who may answer, what is sealed) are the use case's
(bot/usecases/surveys.py); this repository only reads and writes rows. Status changes are
conditional updates, so of several schedulers each opens, closes and reminds once. A finished
response is written only by the call that flips the person's register row from started to
finished, so a double submission never makes two responses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.model_base import random_id
from storage.models import Person
from storage.sql import is_postgres
from storage.survey_models import (
    Survey,
    SurveyAnswer,
    SurveyParticipation,
    SurveyQuestion,
    SurveyResponse,
)

SCHEDULED, OPEN, CLOSED = "scheduled", "open", "closed"


@dataclass(frozen=True, slots=True)
class AnswerRow:
    """One answer as results read it."""

    id: int
    question_id: int
    numbers: list[int] | None
    text: str | None


@dataclass(frozen=True, slots=True)
class ResponseRow:
    """One finished response as results read it (no person: results never need one)."""

    id: int
    department: str | None
    location: str | None
    answers: dict[int, AnswerRow] = field(default_factory=dict)
    # An anonymous response's sealed groups while its survey is open (the use case opens it).
    sealed: str | None = None


@dataclass(frozen=True, slots=True)
class ParticipantRow:
    """One register row with the person's groups, for turnout."""

    person_id: int
    finished: bool
    channel: str | None
    department: str | None
    location: str | None


class Surveys:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(self, survey: Survey, questions: Sequence[SurveyQuestion]) -> Survey:
        self.session.add(survey)
        await self.session.flush()
        for question in questions:
            question.survey_id = survey.id
            self.session.add(question)
        await self.session.flush()
        return survey

    async def get(self, survey_id: int) -> Survey | None:
        return await self.session.get(Survey, survey_id, populate_existing=True)

    async def questions(self, survey_id: int) -> list[SurveyQuestion]:
        stmt = (
            select(SurveyQuestion)
            .where(SurveyQuestion.survey_id == survey_id)
            .order_by(SurveyQuestion.position)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def recent(self, *, status: str | None = None, limit: int = 50) -> list[Survey]:
        stmt = select(Survey).order_by(Survey.id.desc()).limit(limit)
        if status:
            stmt = stmt.where(Survey.status == status)
        return list((await self.session.execute(stmt)).scalars())

    # --- status -------------------------------------------------------------------------

    async def mark_open(self, survey_id: int, audience_size: int) -> bool:
        return await self._transition(survey_id, SCHEDULED, OPEN, audience_size=audience_size)

    async def mark_closed(self, survey_id: int, now: datetime) -> bool:
        return await self._transition(survey_id, OPEN, CLOSED, closed_at=now)

    async def mark_reminded(self, survey_id: int, now: datetime) -> bool:
        stmt = (
            update(Survey)
            .where(Survey.id == survey_id, Survey.status == OPEN, Survey.reminder_sent_at.is_(None))
            .values(reminder_sent_at=now)
            .returning(Survey.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def _transition(self, survey_id: int, old: str, new: str, **values: Any) -> bool:
        stmt = (
            update(Survey)
            .where(Survey.id == survey_id, Survey.status == old)
            .values(status=new, **values)
            .returning(Survey.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def due_to_open(self, now: datetime) -> list[int]:
        stmt = select(Survey.id).where(Survey.status == SCHEDULED, Survey.opens_at <= now)
        return list((await self.session.execute(stmt.order_by(Survey.id))).scalars())

    async def due_to_close(self, now: datetime) -> list[int]:
        stmt = select(Survey.id).where(Survey.status == OPEN, Survey.closes_at <= now)
        return list((await self.session.execute(stmt.order_by(Survey.id))).scalars())

    async def due_for_reminder(self, now: datetime) -> list[int]:
        """Open surveys with a reminder not yet sent whose reminder time has come."""
        stmt = select(Survey.id, Survey.closes_at, Survey.remind_hours).where(
            Survey.status == OPEN,
            Survey.reminder_sent_at.is_(None),
            Survey.remind_hours.is_not(None),
            Survey.closes_at > now,
        )
        rows = (await self.session.execute(stmt.order_by(Survey.id))).all()
        return [sid for sid, closes, hours in rows if closes - timedelta(hours=hours or 0) <= now]

    # --- the register -------------------------------------------------------------------

    async def participation(self, survey_id: int, person_id: int) -> SurveyParticipation | None:
        return await self.session.get(
            SurveyParticipation, (survey_id, person_id), populate_existing=True
        )

    async def take_part(self, survey_id: int, person_id: int, channel: str) -> None:
        """Register that the person started (nothing when already registered)."""
        insert_fn = pg_insert if is_postgres(self.session) else sqlite_insert
        stmt = insert_fn(SurveyParticipation).values(
            survey_id=survey_id, person_id=person_id, finished=False, channel=channel
        )
        await self.session.execute(stmt.on_conflict_do_nothing())

    async def save_progress(
        self, survey_id: int, person_id: int, sealed: str | None, channel: str | None = None
    ) -> None:
        """Replace the (sealed) answers so far of someone who has not finished."""
        values: dict[str, Any] = {"progress": sealed}
        if channel is not None:
            values["channel"] = channel
        await self.session.execute(
            update(SurveyParticipation)
            .where(
                SurveyParticipation.survey_id == survey_id,
                SurveyParticipation.person_id == person_id,
                SurveyParticipation.finished.is_(False),
            )
            .values(**values)
        )

    async def finish(
        self,
        survey: Survey,
        person_id: int,
        channel: str,
        answers: Mapping[int, tuple[list[int] | None, str | None]],
        *,
        department: str | None,
        location: str | None,
        groups_sealed: str | None = None,
        today: date,
    ) -> int | None:
        """Mark the person finished (progress erased) and write their response; None when they
        had already finished or never started (nothing is written then).

        `answers`: per question id (numbers, text). Anonymous: the response has no person."""
        flipped = await self.session.execute(
            update(SurveyParticipation)
            .where(
                SurveyParticipation.survey_id == survey.id,
                SurveyParticipation.person_id == person_id,
                SurveyParticipation.finished.is_(False),
            )
            .values(finished=True, progress=None, channel=channel)
            .returning(SurveyParticipation.person_id)
        )
        if flipped.first() is None:
            return None
        response_id = random_id()
        await self.session.execute(
            insert(SurveyResponse).values(
                id=response_id,
                survey_id=survey.id,
                person_id=None if survey.anonymous else person_id,
                department=department,
                location=location,
                groups_sealed=groups_sealed,
                finished_on=today,
            )
        )
        # In the order of the questions; ids random, so they say nothing of arrival either.
        rows = [
            {
                "id": random_id(),
                "response_id": response_id,
                "question_id": qid,
                "numbers": numbers,
                "text": text,
            }
            for qid, (numbers, text) in sorted(answers.items())
        ]
        if rows:
            await self.session.execute(insert(SurveyAnswer), rows)
        return response_id

    async def label(self, labels: Mapping[int, tuple[str | None, str | None]]) -> None:
        """Write anonymous responses' groups in the clear (as closing decided them) and
        erase their sealed groups, all in this one transaction."""
        rows = [
            {"id": rid, "department": dep, "location": loc, "groups_sealed": None}
            for rid, (dep, loc) in sorted(labels.items())
        ]
        if rows:
            await self.session.execute(update(SurveyResponse), rows)

    async def participants(self, survey_id: int) -> list[ParticipantRow]:
        stmt = (
            select(
                SurveyParticipation.person_id,
                SurveyParticipation.finished,
                SurveyParticipation.channel,
                Person.department,
                Person.location,
            )
            .join(Person, Person.id == SurveyParticipation.person_id)
            .where(SurveyParticipation.survey_id == survey_id)
        )
        return [ParticipantRow(*row) for row in (await self.session.execute(stmt)).all()]

    async def finisher_ids(self, survey_id: int) -> set[int]:
        stmt = select(SurveyParticipation.person_id).where(
            SurveyParticipation.survey_id == survey_id, SurveyParticipation.finished.is_(True)
        )
        return set((await self.session.execute(stmt)).scalars())

    # --- responses ----------------------------------------------------------------------

    async def responses(self, survey_id: int) -> list[ResponseRow]:
        """Every finished response with its answers, in the order of their (random) ids."""
        stmt = (
            select(
                SurveyResponse.id,
                SurveyResponse.department,
                SurveyResponse.location,
                SurveyResponse.groups_sealed,
            )
            .where(SurveyResponse.survey_id == survey_id)
            .order_by(SurveyResponse.id)
        )
        responses = {
            rid: ResponseRow(rid, dep, loc, sealed=sealed)
            for rid, dep, loc, sealed in (await self.session.execute(stmt)).all()
        }
        if not responses:
            return []
        answers = select(SurveyAnswer).where(
            SurveyAnswer.response_id.in_(
                select(SurveyResponse.id).where(SurveyResponse.survey_id == survey_id)
            )
        )
        for a in (await self.session.execute(answers)).scalars():
            responses[a.response_id].answers[a.question_id] = AnswerRow(
                a.id, a.question_id, a.numbers, a.text
            )
        return list(responses.values())

    async def named_response(
        self, survey_id: int, person_id: int
    ) -> dict[int, tuple[list[int] | None, str | None]] | None:
        """A named respondent's answers per question id (never anonymous ones: no row knows)."""
        stmt = select(SurveyResponse.id).where(
            SurveyResponse.survey_id == survey_id, SurveyResponse.person_id == person_id
        )
        response_id = (await self.session.execute(stmt)).scalar()
        if response_id is None:
            return None
        answers = select(SurveyAnswer).where(SurveyAnswer.response_id == response_id)
        return {
            a.question_id: (a.numbers, a.text)
            for a in (await self.session.execute(answers)).scalars()
        }

    async def named_responses(
        self, survey_id: int
    ) -> list[tuple[str, dict[int, tuple[list[int] | None, str | None]]]]:
        """Per named respondent (by name): their answers per question id. Anonymous
        responses have no person and are not among them."""
        stmt = (
            select(SurveyResponse.id, Person.name)
            .join(Person, Person.id == SurveyResponse.person_id)
            .where(SurveyResponse.survey_id == survey_id)
            .order_by(Person.name, SurveyResponse.id)
        )
        named = [(rid, name) for rid, name in (await self.session.execute(stmt)).all()]
        if not named:
            return []
        answers: dict[int, dict[int, tuple[list[int] | None, str | None]]] = {
            rid: {} for rid, _ in named
        }
        rows = select(SurveyAnswer).where(SurveyAnswer.response_id.in_(list(answers)))
        for a in (await self.session.execute(rows)).scalars():
            answers[a.response_id][a.question_id] = (a.numbers, a.text)
        return [(name, answers[rid]) for rid, name in named]

    async def open_for(self, person: Person) -> list[Survey]:
        """Open surveys whose audience includes the person (the use case checks each)."""
        stmt = select(Survey).where(Survey.status == OPEN).order_by(Survey.id)
        return list((await self.session.execute(stmt)).scalars())
