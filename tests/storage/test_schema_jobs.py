"""Migration 0002 (open questions, reports, nominations): its schema is exactly the models',
it downgrades cleanly, and the privacy rules are visible in the columns themselves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from storage.migrate import alembic_config, upgrade_async
from storage.models import (
    Base,
    Nomination,
    NominationCampaign,
    NomineeResponse,
    OpenAnswer,
    OpenQuestion,
    QuestionParticipation,
    Report,
    ReportNote,
    ReportPhoto,
)
from tests.support.databases import create_pg_database, drop_pg_database

JOB_MODELS = (
    OpenQuestion, OpenAnswer, QuestionParticipation, Report, ReportPhoto, ReportNote,
    NominationCampaign, Nomination, NomineeResponse,
)  # fmt: skip
JOB_TABLES = {m.__tablename__ for m in JOB_MODELS}


@pytest.fixture(params=["sqlite", "postgresql"])
async def scratch_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of its own: this test moves the schema up and down."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}"
        return
    name, url = await create_pg_database()
    try:
        yield url
    finally:
        await drop_pg_database(name)


def _touches_job_table(diff: object) -> bool:
    text = repr(diff)
    return any(f"'{table}'" in text or f"table_name='{table}'" in text for table in JOB_TABLES)


async def _state(url: str) -> tuple[set[str], list[object]]:
    engine = create_async_engine(url)

    def look(connection):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diffs = [d for d in compare_metadata(context, Base.metadata) if _touches_job_table(d)]
        return set(inspect(connection).get_table_names()), diffs

    try:
        async with engine.connect() as conn:
            return await conn.run_sync(look)
    finally:
        await engine.dispose()


async def test_migration_0002_creates_the_job_tables_and_downgrades(scratch_url: str) -> None:
    """0002 makes the tables (later migrations add columns: 0006 the privacy ones), its
    downgrade removes them, and the head matches the models."""
    await upgrade_async(scratch_url, "0002")
    tables, _ = await _state(scratch_url)
    assert tables >= JOB_TABLES
    cfg = alembic_config(scratch_url)
    await asyncio.to_thread(command.downgrade, cfg, "0001")
    tables, _ = await _state(scratch_url)
    assert not JOB_TABLES & tables and "polls" in tables
    await upgrade_async(scratch_url)
    tables, diffs = await _state(scratch_url)
    assert tables >= JOB_TABLES and diffs == []


def test_privacy_is_in_the_columns() -> None:
    def columns(model: type) -> set[str]:
        return {c.name for c in inspect(model).columns}

    # Who answered an anonymous question: nothing else, no time.
    assert columns(QuestionParticipation) == {"question_id", "person_id"}
    # An answer's only time for anonymous answers is a date; the person may be absent.
    assert OpenAnswer.__table__.c.person_id.nullable
    assert str(OpenAnswer.__table__.c.answered_on.type) == "DATE"
    # A fully anonymous report: no reporter, a date, and only a hash of the secret code.
    assert Report.__table__.c.reporter_id.nullable and Report.__table__.c.submitted_at.nullable
    assert str(Report.__table__.c.submitted_on.type) == "DATE"
    assert "code" not in columns(Report) and "code_hash" in columns(Report)
    assert str(ReportNote.__table__.c.added_on.type) == "DATE"
    # Nominators can be erased (anonymous campaigns, at closing).
    assert Nomination.__table__.c.nominator_id.nullable
