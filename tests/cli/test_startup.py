"""The CLI starts fast: platform SDKs are imported only by the code that uses them."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
from pathlib import Path

SDKS = ("slack_bolt", "slack_sdk", "botbuilder", "botframework", "twilio", "aiohttp_retry")


def test_cli_and_engine_import_no_platform_sdk() -> None:
    code = (
        "import sys, bot.cli.main, bot.cli.chat, bot.engine, bot.delivery;"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({SDKS!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_newest_migration_is_alembics_head() -> None:
    """prepare_database leaves an SQLite file at newest_migration() to itself, without
    Alembic (~0.3 s of every command): the file names must tell the head, one line."""
    from alembic.script import ScriptDirectory

    from bot.cli.common import newest_migration
    from storage.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert script.get_heads() == [newest_migration()]
    for rev in script.walk_revisions():
        assert Path(rev.path).name.startswith(f"{rev.revision}_"), rev.path


def test_an_sqlite_file_behind_is_still_upgraded(tmp_path: Path) -> None:
    from bot.cli.common import _sqlite_revision, newest_migration, prepare_database
    from bot.config import Settings
    from storage.migrate import upgrade

    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    previous = f"{int(newest_migration()) - 1:04d}"
    upgrade(url, previous)
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert _sqlite_revision(db) == previous
    prepare_database(Settings(database_url=url))
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert _sqlite_revision(db) == newest_migration()
    prepare_database(Settings(database_url=url))  # up to date: left as it is
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert _sqlite_revision(db) == newest_migration()
