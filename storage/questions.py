"""Open questions and their free-text answers.

Named answers: one row per person, replaced while the question is open. Anonymous answers:
a row with no person and only the date, plus a participation row (who answered, nothing
else) so a person answers once. Every answer has a random id (models.random_id): ids in
order of arrival could be matched to the confirmations in the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.deadline import accepts
from storage.models import OpenAnswer, OpenQuestion, Person, QuestionParticipation, random_id
from storage.people import Audience
from storage.sql import insert_ignore

OPEN, CLOSED = "open", "closed"


class AnswerOutcome(StrEnum):
    NEW = "new"
    REPLACED = "replaced"
    UNCHANGED = "unchanged"
    ALREADY_ANSWERED = "already_answered"  # anonymous: an answer cannot be replaced
    CLOSED = "closed"  # past its closing time or closed: nothing was stored


@dataclass(frozen=True, slots=True)
class AnswerRow:
    """An answer as the OR sees it: the name only for named questions."""

    id: int
    text: str
    answered_on: str
    name: str | None
    department: str | None
    hidden: bool


class Questions:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self,
        *,
        text: str,
        anonymous: bool,
        audience: Audience,
        closes_at: datetime | None,
        created_by: int | None,
        now: datetime,
        text_en: str | None = None,
    ) -> OpenQuestion:
        question = OpenQuestion(
            created_at=now,
            text=text,
            text_en=text_en,
            anonymous=anonymous,
            audience=audience.to_dict(),
            status=OPEN,
            closes_at=closes_at,
            created_by=created_by,
        )
        self.session.add(question)
        await self.session.flush()
        return question

    async def get(self, question_id: int) -> OpenQuestion | None:
        return await self.session.get(OpenQuestion, question_id, populate_existing=True)

    async def set_audience_size(self, question_id: int, size: int) -> None:
        await self.session.execute(
            update(OpenQuestion).where(OpenQuestion.id == question_id).values(audience_size=size)
        )

    async def mark_closed(self, question_id: int, now: datetime) -> bool:
        """open → closed; False when another process (or person) closed it first."""
        stmt = (
            update(OpenQuestion)
            .where(OpenQuestion.id == question_id, OpenQuestion.status == OPEN)
            .values(status=CLOSED, closed_at=now)
            .returning(OpenQuestion.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def due_to_close(self, now: datetime) -> list[int]:
        stmt = select(OpenQuestion.id).where(
            OpenQuestion.status == OPEN,
            OpenQuestion.closes_at.is_not(None),
            OpenQuestion.closes_at <= now,
        )
        return list((await self.session.execute(stmt.order_by(OpenQuestion.id))).scalars())

    async def recent(self, *, status: str | None = None, limit: int = 50) -> list[OpenQuestion]:
        stmt = select(OpenQuestion).order_by(OpenQuestion.id.desc()).limit(limit)
        if status:
            stmt = stmt.where(OpenQuestion.status == status)
        return list((await self.session.execute(stmt)).scalars())

    async def answer(
        self, question: OpenQuestion, person_id: int, text: str, now: datetime
    ) -> AnswerOutcome:
        """Store an answer. The caller holds the person's conversation lock; `question` as
        read in this transaction, `now` the event's time: past the closing time nothing is
        stored (CLOSED), even before the scheduler has closed the question."""
        if not accepts(question.status, question.closes_at, now):
            return AnswerOutcome.CLOSED
        today = now.date()
        if question.anonymous:
            first = await insert_ignore(
                self.session,
                QuestionParticipation.__table__,  # type: ignore[arg-type]
                {"question_id": question.id, "person_id": person_id},
                ["question_id", "person_id"],
            )
            if not first:
                return AnswerOutcome.ALREADY_ANSWERED
            self.session.add(
                OpenAnswer(
                    id=random_id(),
                    question_id=question.id,
                    person_id=None,
                    text=text,
                    answered_on=today,
                )
            )
            return AnswerOutcome.NEW
        existing = await self.own_answer(question.id, person_id)
        if existing is None:
            self.session.add(
                OpenAnswer(
                    # Random for named answers too: on SQLite a row without an id would get
                    # the largest so far plus one, right after the latest anonymous answer.
                    id=random_id(),
                    question_id=question.id,
                    person_id=person_id,
                    text=text,
                    answered_on=today,
                    updated_at=now,
                )
            )
            return AnswerOutcome.NEW
        if existing.text == text:
            return AnswerOutcome.UNCHANGED
        existing.text, existing.answered_on, existing.updated_at = text, today, now
        return AnswerOutcome.REPLACED

    async def own_answer(self, question_id: int, person_id: int) -> OpenAnswer | None:
        stmt = select(OpenAnswer).where(
            OpenAnswer.question_id == question_id, OpenAnswer.person_id == person_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def has_answered(self, question: OpenQuestion, person_id: int) -> bool:
        if question.anonymous:
            stmt = select(QuestionParticipation.person_id).where(
                QuestionParticipation.question_id == question.id,
                QuestionParticipation.person_id == person_id,
            )
            return (await self.session.execute(stmt)).first() is not None
        return await self.own_answer(question.id, person_id) is not None

    async def answers(
        self,
        question: OpenQuestion,
        *,
        include_hidden: bool = False,
        contains: str | None = None,
    ) -> list[AnswerRow]:
        stmt = (
            select(OpenAnswer, Person.name, Person.department)
            .outerjoin(Person, Person.id == OpenAnswer.person_id)
            .where(OpenAnswer.question_id == question.id)
            # By day; ids are random, so within a day the order says nothing of arrival.
            .order_by(OpenAnswer.answered_on, OpenAnswer.id)
        )
        if not include_hidden:
            stmt = stmt.where(OpenAnswer.hidden_at.is_(None))
        if contains:
            stmt = stmt.where(
                func.lower(OpenAnswer.text).contains(contains.lower(), autoescape=True)
            )
        rows = []
        for answer, name, department in await self.session.execute(stmt):
            named = not question.anonymous and answer.person_id is not None
            rows.append(
                AnswerRow(
                    id=answer.id,
                    text=answer.text,
                    answered_on=answer.answered_on.isoformat(),
                    name=name if named else None,
                    department=department if named else None,
                    hidden=answer.hidden_at is not None,
                )
            )
        return rows

    async def count_answers(self, question_id: int) -> int:
        stmt = select(func.count()).where(
            OpenAnswer.question_id == question_id, OpenAnswer.hidden_at.is_(None)
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def get_answer(self, answer_id: int) -> OpenAnswer | None:
        return await self.session.get(OpenAnswer, answer_id, populate_existing=True)

    async def hide(self, answer_id: int, by: int | None, now: datetime) -> bool:
        """Hide an answer (kept, never shown); False when it was hidden already or is gone."""
        stmt = (
            update(OpenAnswer)
            .where(OpenAnswer.id == answer_id, OpenAnswer.hidden_at.is_(None))
            .values(hidden_at=now, hidden_by=by)
            .returning(OpenAnswer.id)
        )
        return (await self.session.execute(stmt)).first() is not None
