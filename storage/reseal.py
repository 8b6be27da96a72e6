"""Resealing anonymous rows on PostgreSQL.

Every row PostgreSQL writes carries the id of the transaction that wrote it (`xmin`, readable
with a plain SELECT), and a new row goes where the last one went, so physical order (`ctid`)
is the order of arrival. An anonymous answer is written in the same transaction as its
author's participation and confirmation, so for a while it shares their `xmin`. The reseal
job rewrites such rows in a later transaction, in the order of their random ids, one batch
at a time: after it,
they share a transaction id only with each other, and their physical order says nothing of
who came when. Counters of anonymous polls are rewritten the same way (their newest version
would otherwise carry the last voter's transaction).

SQLite keeps no transaction ids, and these tables' rows are ordered by their random ids, so
there is nothing to do there. What stays: PostgreSQL's write-ahead log and dead row versions
until VACUUM, which only a superuser with file access reads (docs/privacy.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from storage.models import (
    Nomination,
    OpenAnswer,
    Poll,
    PollOption,
    Report,
    ReportNote,
    ReportPhoto,
)
from storage.reports import ANONYMOUS
from storage.survey_models import SurveyAnswer, SurveyResponse

BATCH = 2000
OPEN_POLL = "open"


def _anonymous_report_ids() -> ColumnElement[bool]:
    return select(Report.id).where(Report.privacy == ANONYMOUS).scalar_subquery()


def _anonymous_response_ids() -> ColumnElement[bool]:
    return select(SurveyResponse.id).where(SurveyResponse.person_id.is_(None)).scalar_subquery()


def _targets() -> Sequence[tuple[Table, ColumnElement[bool]]]:
    """Each table with rows that belong to an anonymous act, and which rows those are."""
    targets: list[tuple[Table, ColumnElement[bool]]] = [
        (OpenAnswer.__table__, OpenAnswer.person_id.is_(None)),  # type: ignore[list-item]
        (Report.__table__, Report.privacy == ANONYMOUS),  # type: ignore[list-item]
        (ReportPhoto.__table__, ReportPhoto.report_id.in_(_anonymous_report_ids())),  # type: ignore[list-item]
        (ReportNote.__table__, ReportNote.report_id.in_(_anonymous_report_ids())),  # type: ignore[list-item]
        (Nomination.__table__, Nomination.nominator_key.is_not(None)),  # type: ignore[list-item]
        (SurveyResponse.__table__, SurveyResponse.person_id.is_(None)),  # type: ignore[list-item]
        (SurveyAnswer.__table__, SurveyAnswer.response_id.in_(_anonymous_response_ids())),  # type: ignore[list-item]
    ]
    return targets


async def reseal(session: AsyncSession) -> int:
    """Rewrite anonymous rows not yet resealed, each by its own statement in random order,
    and the counters of open anonymous polls. Returns how many anonymous rows were
    rewritten (the counters, rewritten every time, are not counted)."""
    if session.get_bind().dialect.name != "postgresql":
        return 0
    pending: list[tuple[Table, object]] = []
    for table, anonymous in _targets():
        ids = await session.execute(
            select(table.c.id).where(anonymous, table.c.resealed.is_(False)).limit(BATCH)
        )
        pending += [(table, row_id) for (row_id,) in ids]
    # In the order of their random ids: the rows' new places on disk follow an order that
    # says nothing of arrival.
    pending.sort(key=lambda item: (item[0].name, item[1]))
    for table, row_id in pending:
        await session.execute(update(table).where(table.c.id == row_id).values(resealed=True))
    # The counters: their newest version was written by the last vote. In id order, as the
    # vote takes them, so that the two never wait for each other in a circle.
    await session.execute(
        update(PollOption)
        .where(
            PollOption.poll_id.in_(
                select(Poll.id).where(Poll.anonymous.is_(True), Poll.status == OPEN_POLL)
            )
        )
        .values(anonymous_count=PollOption.anonymous_count)
        .execution_options(synchronize_session=False)
    )
    return len(pending)
