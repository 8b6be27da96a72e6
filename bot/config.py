"""Settings from the environment: the app's own under ACHTERBAN_, platforms under their names."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError
from storage.db import POOL_SIZE

if TYPE_CHECKING:  # the purge and the models behind it: not for every command (issue 15)
    from storage.retention import Retention


def _platform(name: str) -> AliasChoices:
    # Platform credentials keep the platforms' own names (what their docs and SDKs use).
    return AliasChoices(name)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ACHTERBAN_", extra="ignore")

    env: Literal["development", "production"] = "development"
    data_dir: Path = Path("data")
    database_url: str | None = None
    # A read replica (PostgreSQL hot standby) for the dashboard pages and commands that only
    # read results: poll lists and live figures, CSV exports, the overview, `achterban stats`
    # (docs/deployment.md). Empty: everything reads the primary.
    read_database_url: str | None = None
    # PostgreSQL connections per process, all kept open (see storage/db.py).
    db_pool_size: int = Field(default=POOL_SIZE, ge=1, le=500)
    secret_key: SecretStr | None = None
    public_url: str = "http://127.0.0.1:8080"
    locale: Literal["nl", "en"] = "nl"
    membership: Literal["open", "roster"] = "roster"
    timezone: str = "Europe/Amsterdam"

    # Base-URL overrides for tests and gateways (the platforms' real hosts by default).
    slack_api_url: str | None = None
    twilio_api_url: str | None = None
    teams_emulator: bool = False
    # Bot Framework endpoints, only overridden by tests and sovereign clouds.
    teams_openid_metadata_url: str | None = None
    teams_login_url: str | None = None
    # Reaching Teams users who never wrote to the bot: install the app for them through
    # Microsoft Graph (adapters/teams_graph.py). Off by default; needs the app's catalog id.
    teams_graph_install: bool = False
    teams_app_catalog_id: str | None = None
    teams_service_url: str = "https://smba.trafficmanager.net/teams/"
    graph_api_url: str | None = None
    graph_login_url: str | None = None
    # Choices as WhatsApp quick-reply buttons instead of a numbered list: needs the Content
    # SIDs of twilio/quick-reply templates by number of buttons (1-3), JSON such as
    # {"2": "HX…", "3": "HX…"}; `achterban whatsapp quick-replies` creates them.
    whatsapp_quick_replies: bool = False
    whatsapp_quick_reply_sids: dict[int, str] = Field(default_factory=dict)
    # Approved WhatsApp template (Content SID) for messages outside the 24-hour window.
    whatsapp_template_sid: str | None = None
    media_max_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    # Web chat photos per person (bot/web/uploads.py): how many may be handled at once,
    # and how many are taken per hour; more are refused before they are read.
    upload_max_pending: int = Field(default=2, ge=1, le=100)
    upload_max_per_hour: int = Field(default=30, ge=1, le=10_000)
    media_retention_days: float = Field(default=30.0, gt=0)
    report_reminder_hours: float = Field(default=4.0, gt=0)
    report_discard_hours: float = Field(default=24.0, gt=0)
    # What docs/privacy.md promises about retention (see storage/retention.py).
    inbound_key_retention_hours: float = Field(default=24.0, gt=0)
    held_message_retention_days: float = Field(default=14.0, gt=0)
    web_mailbox_retention_days: float = Field(default=30.0, gt=0)

    delivery_max_attempts: int = Field(default=8, ge=1, le=50)
    delivery_backoff_seconds: float = Field(default=2.0, gt=0)
    delivery_batch_size: int = Field(default=50, ge=1, le=1000)
    delivery_lease_seconds: float = Field(default=300.0, gt=0)
    # Sends in flight per channel and worker process.
    delivery_concurrency: int = Field(default=32, ge=1, le=256)
    # A worker beats this often; after three missed beats its rows are released (bot/heartbeat.py).
    worker_heartbeat_seconds: float = Field(default=5.0, gt=0)
    scheduler_interval_seconds: float = Field(default=30.0, gt=0)
    # Messages per second per channel and worker process, e.g. {"slack": 10} (JSON).
    rate_limits: dict[str, float] = Field(default_factory=dict)
    poll_reminder_hours: float = Field(default=24.0, ge=0)
    # A guided dialog left unanswered this long is ended when the person next writes
    # (bot/conversation.py, Turn.expire_if_idle); their message is then read on its own.
    dialog_timeout_minutes: float = Field(default=60.0, gt=0)

    slack_bot_token: SecretStr | None = Field(
        default=None, validation_alias=_platform("SLACK_BOT_TOKEN")
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias=_platform("SLACK_SIGNING_SECRET")
    )
    microsoft_app_id: str | None = Field(default=None, validation_alias=_platform("MicrosoftAppId"))
    microsoft_app_password: SecretStr | None = Field(
        default=None, validation_alias=_platform("MicrosoftAppPassword")
    )
    microsoft_app_type: str = Field(
        default="MultiTenant", validation_alias=_platform("MicrosoftAppType")
    )
    microsoft_app_tenant_id: str | None = Field(
        default=None, validation_alias=_platform("MicrosoftAppTenantId")
    )
    twilio_account_sid: str | None = Field(
        default=None, validation_alias=_platform("TWILIO_ACCOUNT_SID")
    )
    twilio_auth_token: SecretStr | None = Field(
        default=None, validation_alias=_platform("TWILIO_AUTH_TOKEN")
    )
    twilio_whatsapp_from: str | None = Field(
        default=None, validation_alias=_platform("TWILIO_WHATSAPP_FROM")
    )

    @property
    def db_url(self) -> str:
        """The database URL; by default an SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'achterban.db').resolve()}"

    @property
    def read_db_url(self) -> str | None:
        """The replica's URL, or None when results are read from the primary."""
        url = (self.read_database_url or "").strip()
        return url if url and url != self.db_url else None

    @property
    def retention(self) -> Retention:
        from storage.retention import Retention

        return Retention(
            inbound_key_hours=self.inbound_key_retention_hours,
            held_message_days=self.held_message_retention_days,
            web_mailbox_days=self.web_mailbox_retention_days,
        )

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    @cached_property
    def secret(self) -> str:
        """The key that signs links and sessions.

        Locally it is generated once into the data directory so restarts keep sessions valid;
        production must set it explicitly, so that a lost volume cannot silently rotate it.
        """
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        if self.env == "production":
            raise ConfigError("ACHTERBAN_SECRET_KEY is required when ACHTERBAN_ENV=production")
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    def check(self) -> None:
        """Refuse settings that are unsafe in production (called by serve and worker)."""
        if self.env != "production":
            return
        problems = []
        if self.secret_key is None or len(self.secret_key.get_secret_value()) < 32:
            problems.append("ACHTERBAN_SECRET_KEY must be set (at least 32 characters)")
        if self.teams_emulator:
            problems.append("ACHTERBAN_TEAMS_EMULATOR accepts unauthenticated activities")
        if urlsplit(self.public_url).scheme != "https":
            problems.append("ACHTERBAN_PUBLIC_URL must be https")
        if problems:
            raise ConfigError("unsafe settings for production: " + "; ".join(problems))

    def channel_status(self) -> dict[str, str | None]:
        """Per platform channel: None when enabled, else why it is switched off."""
        return {
            "slack": None
            if self.slack_bot_token and self.slack_signing_secret
            else "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET not set",
            "teams": None
            if self.microsoft_app_id or self.teams_emulator
            else "MicrosoftAppId not set (and ACHTERBAN_TEAMS_EMULATOR off)",
            "whatsapp": None
            if self.twilio_account_sid and self.twilio_auth_token and self.twilio_whatsapp_from
            else "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_WHATSAPP_FROM not set",
        }


def load_settings() -> Settings:
    return Settings()
