"""The server and the CLI start without the heavy libraries of themes and PDF reports: numpy,
SciPy and scikit-learn (about 120 MB) and WeasyPrint (about 40 MB) are imported only when
themes are found or a report is made (issue 15: serve and worker under 300 MB)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("numpy", "scipy", "sklearn", "weasyprint")


def test_starting_loads_none_of_the_heavy_libraries() -> None:
    probe = (
        "import sys, bot.server, bot.cli.main, bot.app; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == ""


def test_finding_themes_still_works_through_the_light_entry_point() -> None:
    from bot.themes import find_themes

    answers = [(i, "de werkdruk is te hoog op de afdeling") for i in range(6)]
    themes = find_themes(answers)
    assert sum(t.count for t in themes) == 6


def test_the_command_imports_only_the_sub_app_it_runs() -> None:
    """`achterban stats` must answer in 2 s (issue 15); importing every sub-app (themes'
    simplemma, the broadcast and survey use cases, Pillow) cost ~0.3 s of its start-up."""
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from bot.cli.main import app\n"
        "later = ('bot.cli.poll', 'bot.cli.broadcast', 'bot.cli.survey', 'bot.themes', 'PIL')\n"
        "print(','.join(m for m in later if m in sys.modules))\n"
        "CliRunner().invoke(app, ['stats', '--help'])\n"
        "print(','.join(m for m in later + ('bot.cli.stats',) if m in sys.modules))\n"
        "CliRunner().invoke(app, ['--help'])\n"
        "print('bot.cli.broadcast' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split("\n")[:3] == ["", "bot.cli.stats", "True"]


def test_stats_runs_without_the_engine(tmp_path: Path) -> None:
    """The report needs a session only: the engine (bot.app: aiohttp, every dialog) is ~0.35 s
    of imports that `achterban stats` does without."""
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from bot.cli.main import app\n"
        "r = CliRunner().invoke(app, ['stats', '--format', 'json'])\n"
        "print(r.exit_code, 'bot.app' in sys.modules, 'bot.delivery' in sys.modules)\n"
    )
    env = {**os.environ, "ACHTERBAN_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120,
        env=env,
    )  # fmt: skip
    assert out.stdout.strip().splitlines()[-1] == "0 False False"


# What `achterban stats --format json` does without (issue 15: the command in 2 s at 1,000,000
# ballots): the engine and the chat's storage, platform SDKs, the web server and its pages,
# PDFs, images, themes, the time parser, tables (json output) and, on an SQLite file that is
# up to date, Alembic with every migration script (~0.3 s).
NOT_FOR_STATS = (
    *HEAVY, "aiohttp", "jinja2", "PIL", "cv2", "simplemma", "babel",
    "slack_bolt", "slack_sdk", "botbuilder", "twilio",
    "alembic", "mako", "storage.schema", "storage.migrate",
    "bot.app", "bot.engine", "bot.conversation", "bot.delivery", "bot.server", "bot.logs",
    "bot.understand", "bot.i18n", "storage.retention", "storage.outbox",
    "storage.broadcast_responses", "storage.people", "rich.table",
)  # fmt: skip


def test_stats_imports_only_what_the_report_needs(tmp_path: Path) -> None:
    from storage.migrate import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    upgrade(url)
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from bot.cli.main import app\n"
        "r = CliRunner().invoke(app, ['stats', '--format', 'json'])\n"
        f"print(r.exit_code, ','.join(m for m in {NOT_FOR_STATS!r} if m in sys.modules))\n"
    )
    env = {**os.environ, "ACHTERBAN_DATABASE_URL": url}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120,
        env=env,
    )  # fmt: skip
    assert out.stdout.strip().splitlines()[-1] == "0"
