"""The CLI as an operator uses it: roster import/list, poll create/results, forget."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from storage.db import Database

GOOD = """name,email,phone,department,location,language,roles
Anna de Vries,anna@example.org,+31 6 1234 5678,Productie,Eindhoven,nl,or_member
Bob Jansen,BOB@example.org,,Logistiek,Tilburg,en,
Chris Smit,chris@example.org,+31612340000,Productie,Eindhoven,,moderator;admin
"""


@pytest.fixture
def cli(db: Database, settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    env = {
        "ACHTERBAN_DATABASE_URL": settings.db_url,
        "ACHTERBAN_DATA_DIR": str(tmp_path),
    }

    def invoke(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        return runner.invoke(app, list(args), env=env, input=input, catch_exceptions=False)

    return invoke


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_roster_import_and_list(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("roster", "import", write(tmp_path, GOOD))
    assert result.exit_code == 0, result.output
    listed = json.loads(cli("roster", "list", "--format", "json").stdout)
    assert [p["email"] for p in listed] == [
        "anna@example.org",
        "bob@example.org",
        "chris@example.org",
    ]
    anna = listed[0]
    assert anna["phone"] == "+31612345678" and anna["roles"] == ["or_member"]
    assert listed[2]["roles"] == ["admin", "moderator"] and listed[2]["language"] == "nl"
    # Upsert by e-mail: a second import updates, does not duplicate.
    changed = GOOD.replace(
        "Bob Jansen,BOB@example.org,,Logistiek", "Bob J.,bob@example.org,,Kantoor"
    )
    assert cli("roster", "import", write(tmp_path, changed)).exit_code == 0
    listed = json.loads(cli("roster", "list", "--format", "json").stdout)
    assert (
        len(listed) == 3 and listed[1]["name"] == "Bob J." and listed[1]["department"] == "Kantoor"
    )


def test_roster_with_a_bad_line_imports_nothing(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = GOOD + "Dora,not-an-email,,X,Y,nl,\nEd,ed@example.org,,X,Y,fr,boss\n"
    result = cli("roster", "import", write(tmp_path, bad))
    assert result.exit_code == 1
    assert "roster.csv:5: invalid email 'not-an-email'" in result.stderr
    assert "roster.csv:6:" in result.stderr and "unknown role boss" in result.stderr
    assert "language must be one of" in result.stderr
    assert json.loads(cli("roster", "list", "--format", "json").stdout) == []
    skipped = cli("roster", "import", "--skip-invalid", write(tmp_path, bad))
    assert skipped.exit_code == 0 and "3 new" in skipped.stderr
    assert len(json.loads(cli("roster", "list", "--format", "json").stdout)) == 3


def test_roster_with_a_wrong_header_is_refused(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("roster", "import", write(tmp_path, "naam,email\nA,a@b.nl\n"))
    assert result.exit_code == 1 and "header must be" in result.stderr


def test_poll_create_results_and_csv_escaping(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("roster", "import", write(tmp_path, GOOD))
    created = cli(
        "poll", "create", "--question", "Q?", "--option", "=HYPERLINK(1)", "--option", "Nee",
        "--created-by", "anna@example.org", "--audience", "department=Productie",
        "--format", "json",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    poll_id = json.loads(created.stdout)["id"]
    results = json.loads(cli("poll", "results", str(poll_id), "--format", "json").stdout)
    assert results == {
        "id": poll_id, "question": "Q?", "status": "open", "closed": False, "multiple": False,
        "anonymous": False, "participants": 0, "audience_size": 2, "comments": [],
        "options": [
            {"position": 1, "label": "=HYPERLINK(1)", "count": 0},
            {"position": 2, "label": "Nee", "count": 0},
        ],
    }  # fmt: skip
    rows = list(
        csv.reader(io.StringIO(cli("poll", "results", str(poll_id), "--format", "csv").stdout))
    )
    assert rows[1] == ["1", "'=HYPERLINK(1)", "0"]
    answered = cli("chat", "--as", "anna@example.org", input="1\n")
    assert "Je koos: =HYPERLINK(1)" in answered.stdout
    results = json.loads(cli("poll", "results", str(poll_id), "--format", "json").stdout)
    assert results["options"][0]["count"] == 1 and results["participants"] == 1
    cli("chat", "--as", "anna@example.org", input="nee, de vergadering is te laat\n")
    results = json.loads(cli("poll", "results", str(poll_id), "--format", "json").stdout)
    assert results["comments"] == [{"text": "de vergadering is te laat", "choices": ["Nee"]}]
    assert cli("poll", "close", str(poll_id)).exit_code == 0
    assert json.loads(cli("poll", "results", str(poll_id), "--format", "json").stdout)["closed"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--option", "A"], "2 to 10"),
        (["--option", "A", "--option", "a"], "must differ"),
        (["--option", "A", "--option", "B", "--closes", "gisteren"], "is in the past"),
        (["--option", "A", "--option", "B", "--closes", "om 6"], "could mean"),
        (["--option", "A", "--option", "B", "--closes", "zomaar"], "not a time"),
        (["--option", "A", "--option", "B", "--closes", "2001-01-01T00:00"], "in the future"),
        (["--option", "A", "--option", "B", "--audience", "team=x"], "department=NAME"),
        (["--option", "A", "--option", "B", "--created-by", "bob@example.org"], "not an OR member"),
    ],
)
def test_poll_create_refuses_bad_input(cli, tmp_path: Path, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    cli("roster", "import", write(tmp_path, GOOD))
    result = cli("poll", "create", "--question", "Q?", *args)
    assert result.exit_code == 2 and message in result.stderr
    assert json.loads(cli("poll", "list", "--format", "json").stdout) == []


def test_a_closing_time_in_words_is_read_as_the_chat_reads_it(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("roster", "import", write(tmp_path, GOOD))
    result = cli(
        "poll", "create", "--question", "Q?", "--option", "A", "--option", "B",
        "--closes", "morgen 17:00", "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    tz = ZoneInfo("Europe/Amsterdam")
    tomorrow = datetime.now(tz).date() + timedelta(days=1)
    assert f"{tomorrow.day} " in result.stderr and "at 17:00" in result.stderr
    listed = json.loads(cli("poll", "list", "--format", "json").stdout)
    closes = datetime.fromisoformat(listed[0]["closes_at"]).astimezone(tz)
    assert (closes.date(), closes.hour, closes.minute) == (tomorrow, 17, 0)


def test_person_forget_keeps_counts(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("roster", "import", write(tmp_path, GOOD))
    poll_id = json.loads(
        cli("poll", "create", "--question", "Q?", "--option", "A", "--option", "B",
            "--format", "json").stdout
    )["id"]  # fmt: skip
    cli("chat", "--as", "bob@example.org", input="2\n")
    assert cli("person", "forget", "bob@example.org", "--yes").exit_code == 0
    listed = json.loads(cli("roster", "list", "--format", "json").stdout)
    assert "bob@example.org" not in json.dumps(listed) and len(listed) == 2
    results = json.loads(cli("poll", "results", str(poll_id), "--format", "json").stdout)
    assert results["options"][1]["count"] == 1
    assert cli("person", "forget", "bob@example.org", "--yes").exit_code == 1


def test_chat_shows_what_was_sent_while_away_and_refuses_strangers(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("roster", "import", write(tmp_path, GOOD))
    cli("poll", "create", "--question", "Welkom terug?", "--option", "Ja", "--option", "Nee")
    out = cli("chat", "--as", "chris@example.org", input="").stdout
    assert "Welkom terug?" in out and "1. Ja" in out
    stranger = cli("chat", "--as", "nobody@example.org", input="hallo\n").stdout
    assert "personeelsbestand" in stranger
