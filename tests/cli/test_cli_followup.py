"""`achterban poll follow-up ID` and `achterban question follow-up ID` on both backends."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from bot.cli.poll import poll_app
from bot.cli.question import question_app
from bot.engine import Engine
from bot.usecases import polls as poll_cases
from tests.support.org import Org
from tests.usecases.test_followups import TEXT, _followup_rows, _poll

app = typer.Typer()
app.add_typer(poll_app, name="poll")
app.add_typer(question_app, name="question")


@pytest.fixture
def cli(org: Org, settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {"ACHTERBAN_DATABASE_URL": settings.db_url, "ACHTERBAN_DATA_DIR": str(tmp_path)}

    async def run(*args: str) -> Any:
        return await asyncio.to_thread(
            CliRunner().invoke, app, list(args), env=env, catch_exceptions=False
        )

    return run


async def test_poll_follow_up(cli: Any, engine: Engine, org: Org) -> None:
    open_id = await _poll(engine, org, close=False)
    refused = await cli("poll", "follow-up", str(open_id), "--text", TEXT)
    assert refused.exit_code == 1 and "Close it first" in refused.stderr
    colleague = await cli(
        "poll", "follow-up", str(open_id), "--text", TEXT, "--by", "emp0@example.org"
    )
    assert colleague.exit_code == 2 and "does not have the role" in colleague.stderr
    async with engine.db.transaction() as session:
        services = engine.services(session)
        poll = await services.polls.get(open_id)
        assert poll is not None and await poll_cases.close_poll(services, poll)
    empty = await cli("poll", "follow-up", str(open_id), "--text", "  ")
    assert empty.exit_code == 2 and "1 to 1000 characters" in empty.stderr
    assert await _followup_rows(engine) == {}
    sent = await cli(
        "poll", "follow-up", str(open_id), "--text", TEXT, "--by", "olga@example.org",
        "--format", "json",
    )  # fmt: skip
    assert sent.exit_code == 0, sent.output
    body = json.loads(sent.stdout)
    assert body["queued"] == len(org.people) and isinstance(body["id"], int)
    rows = await _followup_rows(engine)
    assert all(TEXT in r["text"] and "Bon: 2" in r["text"] for r in rows.values())
    again = await cli("poll", "follow-up", str(open_id), "--text", TEXT)
    assert again.exit_code == 1 and "sent already" in again.stderr


async def test_question_follow_up(cli: Any, engine: Engine, org: Org) -> None:
    created = await cli("question", "create", "--text", "Wat moet beter?", "--format", "json")
    question_id = str(json.loads(created.stdout)["id"])
    assert (await cli("question", "follow-up", question_id, "--text", TEXT)).exit_code == 1
    assert (await cli("question", "close", question_id)).exit_code == 0
    sent = await cli("question", "follow-up", question_id, "--text", TEXT)
    assert sent.exit_code == 0, sent.output
    rows = await _followup_rows(engine)
    assert len(rows) == len(org.people)
    assert all(TEXT in r["text"] and "0 antwoorden" in r["text"] for r in rows.values() if
               "Wat doet de OR ermee?" in r["text"])  # fmt: skip
