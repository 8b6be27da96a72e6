"""`achterban survey …` as an operator uses it: create from the example file, from JSON and
from every template in both languages; results as json, csv and table; cross-tab; close."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.engine import Engine
from bot.surveys import fileformat
from bot.surveys.progress import Given
from storage.db import Database
from tests.support.org import Org
from tests.surveys.support import answer_all

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "survey.toml"


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.runner = CliRunner()

    async def __call__(self, *args: str) -> Any:
        return await asyncio.to_thread(
            self.runner.invoke, app, ["survey", *args], env=self.env, catch_exceptions=False
        )


@pytest.fixture
def cli(org: Org, settings, tmp_path: Path) -> Cli:  # type: ignore[no-untyped-def]
    return Cli({"ACHTERBAN_DATABASE_URL": settings.db_url, "ACHTERBAN_DATA_DIR": str(tmp_path)})


async def test_create_from_the_example_then_results_and_crosstab(
    cli: Cli, org: Org, engine: Engine
) -> None:
    created = await cli("create", "--file", str(EXAMPLE), "--created-by", "olga@example.org")
    assert created.exit_code == 0, created.output
    survey_id = int(created.stdout.strip())
    assert "sent to 4 people" in created.stderr  # department Productie
    for key, scale in (("emp0", 4), ("emp2", 2)):
        answers = [Given([1]), Given([scale], "omdat"), Given([1, 5]), Given([8]), Given()]
        await answer_all(engine, survey_id, org.people[key], answers)
    result = await cli("results", str(survey_id), "--format", "json")
    data = json.loads(result.stdout)
    assert data["responses"] == 2 and data["turnout"]["audience"] == 4
    assert data["turnout"]["percent"] == 50.0 and data["turnout"]["target"] == 60
    assert data["questions"][1]["mean"] == 3.0
    assert [c["count"] for c in data["questions"][2]["counts"]] == [2, 0, 0, 0, 2]
    table = await cli("results", str(survey_id), "--format", "csv")
    rows = list(csv.reader(io.StringIO(table.stdout)))
    assert rows[0] == ["question", "kind", "answer", "count", "percent"]
    assert ["2", "scale", "mean", "3.0", ""] in rows
    assert ["4", "nps", "eNPS", "0.0", ""] in rows
    shown = await cli("results", str(survey_id))
    assert shown.exit_code == 0 and "Nieuw rooster" in shown.stdout
    cross = await cli(
        "crosstab", str(survey_id), "--question", "2", "--by", "1", "--format", "json"
    )
    assert json.loads(cross.stdout)["hidden"] is True  # 2 respondents: under 5
    bad = await cli("crosstab", str(survey_id), "--question", "2", "--by", "9")
    assert bad.exit_code == 2 and "does not exist" in bad.stderr
    assert (await cli("close", str(survey_id))).exit_code == 0
    assert (await cli("close", str(survey_id))).exit_code == 1


async def test_create_from_json_and_refusals(cli: Cli, tmp_path: Path, db: Database) -> None:
    data = fileformat.load(EXAMPLE.read_text(encoding="utf-8"))
    data.pop("audience")
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    created = await cli("create", "--file", str(path), "--format", "json")
    assert created.exit_code == 0, created.output
    assert "sent to 10 people" in created.stderr
    data["questions"][0]["options"] = ["Ja"]
    path.write_text(json.dumps(data), encoding="utf-8")
    refused = await cli("create", "--file", str(path), "--format", "json")
    assert refused.exit_code == 2 and "Question 1: give 2 to 10 options" in refused.stderr
    path.write_text("title = ", encoding="utf-8")
    broken = await cli("create", "--file", str(path))
    assert broken.exit_code == 2 and "The file is not valid" in broken.stderr
    path.write_text('title = "x"\nqestions = []\n', encoding="utf-8")
    typo = await cli("create", "--file", str(path))
    assert typo.exit_code == 2 and "unknown key 'qestions'" in typo.stderr
    unknown = await cli("create", "--template", "bestaat-niet")
    assert unknown.exit_code == 2 and "werkdruk-pulse" in unknown.stderr


@pytest.mark.parametrize("language", ["nl", "en"])
async def test_every_template_creates_a_survey(cli: Cli, language: str) -> None:
    names = fileformat.template_names(language)
    assert names == [
        "adviesaanvraag", "instemmingsverzoek", "or-imago", "rie-check", "werkdruk-pulse",
    ]  # fmt: skip
    for name in names:
        created = await cli("create", "--template", name, "--language", language)
        assert created.exit_code == 0, (name, created.output)
    listed = await cli("list", "--format", "json")
    titles = {s["title"] for s in json.loads(listed.stdout)}
    expected = {
        "nl": {
            "Raadpleging adviesaanvraag (art. 25)", "Raadpleging instemmingsverzoek (art. 27)",
            "Werkdruk-pulse", "RI&E-check: wat is onveilig op jouw afdeling?",
            "Hoe kent de achterban de OR?",
        },
        "en": {
            "Consultation on a request for advice (art. 25)",
            "Consultation on a request for consent (art. 27)", "Workload pulse",
            "RI&E check: what is unsafe in your department?",
            "How does the constituency know the works council?",
        },
    }[language]  # fmt: skip
    assert titles == expected
    shown = await cli("templates", "--language", language, "--format", "json")
    assert len(json.loads(shown.stdout)) == 5
