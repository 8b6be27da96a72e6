"""Settings: the secret key is generated once locally and required in production."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings
from bot.errors import ConfigError


def test_secret_key_is_generated_once_into_the_data_dir(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path, _env_file=None).secret  # type: ignore[call-arg]
    again = Settings(data_dir=tmp_path, _env_file=None).secret  # type: ignore[call-arg]
    assert first == again and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_production_requires_a_secret_key(tmp_path: Path) -> None:
    cfg = Settings(data_dir=tmp_path, env="production", public_url="https://x.example")
    with pytest.raises(ConfigError):
        _ = cfg.secret
    with pytest.raises(ConfigError):
        cfg.check()
    assert not (tmp_path / "secret_key").exists()


def test_platform_credentials_use_the_platforms_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    monkeypatch.setenv("MicrosoftAppId", "app")
    monkeypatch.setenv("ACHTERBAN_MEMBERSHIP", "open")
    cfg = Settings()
    assert cfg.slack_bot_token is not None and cfg.slack_bot_token.get_secret_value() == "xoxb-1"
    assert cfg.membership == "open"
    status = cfg.channel_status()
    assert status["slack"] is None and status["teams"] is None and status["whatsapp"]


def test_default_database_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    cfg = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    assert cfg.db_url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'achterban.db'}"
