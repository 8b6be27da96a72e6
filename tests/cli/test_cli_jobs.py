"""The CLI of the three jobs as an operator uses it: questions, reports, nominations, photos.

The sub-apps are mounted here as bot/cli/main.py mounts them, and run against the test
database (SQLite file or PostgreSQL) through the environment, like a real shell would. The
CLI runs its own event loop (asyncio.run), so each invocation gets a thread of its own.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import typer
from PIL import Image
from sqlalchemy import update
from typer.testing import CliRunner

from bot.cli.nominations import nominations_app
from bot.cli.photo import photo_app
from bot.cli.question import question_app
from bot.cli.report import report_app
from bot.engine import Engine
from storage.models import Nomination, NomineeResponse, OpenAnswer, Report, ReportPhoto
from storage.reports import NewPhoto, Reports, new_code
from tests.support.databases import count
from tests.support.org import Org
from tests.test_photos import astronaut_jpeg, scene, with_gps

app = typer.Typer()
app.add_typer(question_app, name="question")
app.add_typer(report_app, name="report")
app.add_typer(nominations_app, name="nominations")
app.add_typer(photo_app, name="photo")


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.runner = CliRunner()

    async def __call__(self, *args: str) -> Any:
        return await asyncio.to_thread(
            self.runner.invoke, app, list(args), env=self.env, catch_exceptions=False
        )

    async def json(self, *args: str) -> Any:
        result = await self(*args, "--format", "json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


@pytest.fixture
def cli(org: Org, settings, tmp_path: Path) -> Cli:  # type: ignore[no-untyped-def]
    return Cli({"ACHTERBAN_DATABASE_URL": settings.db_url, "ACHTERBAN_DATA_DIR": str(tmp_path)})


async def add(engine: Engine, *rows: object) -> None:
    async with engine.db.transaction() as session:
        session.add_all(rows)


async def test_question_create_answers_and_exports(cli: Cli, org: Org, engine: Engine) -> None:
    body = await cli.json(
        "question", "create", "--text", "Wat moet beter?", "--audience", "department=Productie",
        "--created-by", "olga@example.org", "--closes", "2099-01-01T12:00",
    )  # fmt: skip
    assert body["sent"] == 4
    question_id = str(body["id"])
    refused = await cli("question", "create", "--text", "X", "--created-by", "emp0@example.org")
    assert refused.exit_code == 2 and "does not have the role" in refused.stderr
    assert (await cli("question", "create", "--text", "X", "--closes", "gisteren")).exit_code == 2
    today, people = date.today(), org.people
    await add(
        engine,
        OpenAnswer(question_id=int(question_id), person_id=people["emp0"].id,
                   text='=HYPERLINK("x")', answered_on=today),
        OpenAnswer(question_id=int(question_id), person_id=people["emp2"].id,
                   text="Meer pauze", answered_on=today),
    )  # fmt: skip
    listed = await cli.json("question", "answers", question_id)
    assert [a["name"] for a in listed["answers"]] == ["Emp0", "Emp2"]
    second = listed["answers"][1]
    assert second == {
        "id": second["id"], "date": today.isoformat(), "name": "Emp2",
        "department": "Productie", "text": "Meer pauze",
    }  # fmt: skip
    exported = (await cli("question", "answers", question_id, "--format", "csv")).stdout
    cells = list(csv.reader(io.StringIO(exported)))
    assert cells[0] == ["id", "date", "name", "department", "text"]
    assert cells[1][4] == '\'=HYPERLINK("x")'  # no formula reaches a spreadsheet
    table = (await cli("question", "answers", question_id, "--contains", "PAUZE")).stdout
    assert "Meer pauze" in table and "HYPERLINK" not in table
    first_id = str(listed["answers"][0]["id"])
    assert (await cli("question", "hide", first_id, "--by", "emp0@example.org")).exit_code == 2
    hidden = await cli("question", "hide", first_id, "--by", "mo@example.org")
    assert hidden.exit_code == 0, hidden.output
    after = await cli.json("question", "answers", question_id)
    assert [a["name"] for a in after["answers"]] == ["Emp2"]
    assert (await cli("question", "close", question_id)).exit_code == 0
    assert (await cli("question", "close", question_id)).exit_code == 1
    [row] = await cli.json("question", "list")
    assert (row["status"], row["answers"]) == ("closed", 1)


async def test_anonymous_question_export_has_no_names(cli: Cli, org: Org, engine: Engine) -> None:
    question_id = (await cli.json("question", "create", "--text", "Anoniem?", "--anonymous"))["id"]
    await add(
        engine,
        OpenAnswer(
            question_id=question_id, person_id=None, text="Geheim", answered_on=date.today()
        ),
    )
    [answer] = (await cli.json("question", "answers", str(question_id)))["answers"]
    assert answer["name"] is None and answer["department"] is None and answer["text"] == "Geheim"


async def test_report_list_show_and_status(cli: Cli, org: Org, engine: Engine) -> None:
    async with engine.db.transaction() as session:
        services, reports = engine.services(session), Reports(session)
        named = await reports.create(
            reporter_id=org.people["emp0"].id,
            privacy="named",
            description="Losse tegel",
            location="Hal 1",
            recognisable=None,
            consent=None,
            now=services.now,
            photos=[NewPhoto("p-" + "a" * 64, "o-" + "b" * 64, 1, 1, 100, 80)],
        )
        anonymous = await reports.create(
            reporter_id=org.people["emp2"].id, privacy="anonymous", description="Gaslucht",
            location="Kelder", recognisable=None, consent=None, photos=[],
            now=services.now, code=new_code(),
        )  # fmt: skip
    # Newest day first; within a day the order says nothing of arrival (random ids).
    assert {r["id"] for r in await cli.json("report", "list")} == {anonymous.id, named.id}
    shown = await cli.json("report", "show", str(named.id))
    assert shown["reporter"] == {"name": "Emp0", "email": "emp0@example.org"}
    assert shown["photos"][0]["processed_path"].endswith("/media/processed/aa/" + "a" * 64)
    assert (await cli.json("report", "show", str(anonymous.id)))["reporter"] is None
    changed = await cli.json(
        "report", "status", str(named.id), "rejected", "--reason", "Al gemeld",
        "--by", "mo@example.org",
    )  # fmt: skip
    assert changed == {"id": named.id, "old": "new", "status": "rejected"}
    told = (await org.last("emp0")).text
    assert "afgewezen" in told and "Al gemeld" in told
    again = await cli("report", "status", str(named.id), "resolved")
    assert again.exit_code == 1 and "cannot go from rejected" in again.stderr
    assert (await cli("report", "status", str(named.id), "bogus")).exit_code == 2
    assert (await cli("report", "status", "999", "resolved")).exit_code == 1
    not_moderator = ("--by", "emp0@example.org")
    assert (
        await cli("report", "status", str(anonymous.id), "resolved", *not_moderator)
    ).exit_code == 2
    [new] = await cli.json("report", "list", "--status", "new")
    assert new["id"] == anonymous.id
    assert await count(engine.db, ReportPhoto) == 1 and await count(engine.db, Report) == 2


async def test_nominations_open_close_results_candidates(
    cli: Cli, org: Org, engine: Engine
) -> None:
    opened = await cli.json(
        "nominations", "open", "--title", "OR 2027", "--closes", "2099-01-01T17:00",
        "--max-per-person", "2", "--anonymous", "--created-by", "olga@example.org",
    )  # fmt: skip
    campaign_id, p, today = opened["id"], org.people, date.today()
    assert opened["sent"] == len(p)
    await add(
        engine,
        Nomination(campaign_id=campaign_id, nominee_id=p["emp3"].id, nominator_id=p["emp0"].id,
                   reason="Sterk", created_on=today),
        Nomination(campaign_id=campaign_id, nominee_id=p["emp3"].id, nominator_id=p["emp2"].id,
                   created_on=today),
        Nomination(campaign_id=campaign_id, nominee_id=p["emp5"].id, nominator_id=p["emp5"].id,
                   is_self=True, created_on=today),
    )  # fmt: skip
    [listed] = await cli.json("nominations", "list")
    assert (listed["status"], listed["nominations"], listed["max_per_person"]) == ("open", 3, 2)
    assert (await cli("nominations", "close", str(campaign_id))).exit_code == 0
    assert (await cli("nominations", "close", str(campaign_id))).exit_code == 1
    results = await cli.json("nominations", "results", str(campaign_id))
    ranked = [(n["name"], n["nominations"]) for n in results["nominees"]]
    assert ranked == [("Emp3", 2), ("Emp5", 1)]
    assert results["nominees"][1]["self_nominated"] is True
    assert results["nominees"][0]["reasons"] == ["Sterk"]
    assert all(n["nominated_by"] == [] for n in results["nominees"])  # anonymous campaign
    table = (await cli("nominations", "results", str(campaign_id))).stdout
    assert "Emp0" not in table and "nominated_by" not in table
    async with engine.db.transaction() as session:
        await session.execute(
            update(NomineeResponse)
            .where(NomineeResponse.person_id == p["emp3"].id)
            .values(response="interested")
        )
    exported = (await cli("nominations", "candidates", str(campaign_id))).stdout
    assert list(csv.reader(io.StringIO(exported))) == [
        ["name", "department", "nominations"],
        ["Emp3", "Logistiek", "2"],
    ]
    bad = await cli("nominations", "open", "--title", "X", "--closes", "2000-01-01T00:00")
    assert bad.exit_code == 2 and "future" in bad.stderr


async def test_photo_scrub(cli: Cli, tmp_path: Path) -> None:
    source, target = tmp_path / "in.jpg", tmp_path / "out.jpg"
    source.write_bytes(astronaut_jpeg())
    done = await cli.json("photo", "scrub", str(source), str(target))
    assert (done["faces"], done["blurred"], done["width"]) == (1, 1, 512)
    plain = tmp_path / "plain.jpg"
    plain.write_bytes(with_gps(scene()))
    kept = await cli("photo", "scrub", str(plain), str(target), "--no-blur")
    assert kept.exit_code == 0 and "metadata removed" in kept.stderr
    assert len(Image.open(target).getexif()) == 0 and b"SecretCam" not in target.read_bytes()
    text = tmp_path / "notes.txt"
    text.write_text("geen foto")
    refused = await cli("photo", "scrub", str(text), str(target))
    assert refused.exit_code == 1 and "geen foto die ik kan lezen" in refused.stderr
