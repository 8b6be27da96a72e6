"""Structured logs: one JSON object per line, bounded in size, never naming a person.

Every record passes the one handler that `setup_logging` puts on the root logger, ours and the
SDKs' alike (slack_bolt, slack_sdk, botbuilder, msal, twilio, aiohttp, SQLAlchemy), so the
rules of bot/log_privacy.py hold for all of them. A line is at most MAX_LINE_BYTES however
much a request sends: an attacker cannot fill the disk through the log.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from bot.log_privacy import CUT_MARK, DROP, clip, redact, use_secret, withhold

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_FIXED = ("time", "level", "logger")

MAX_LINE_BYTES = 4096
MESSAGE_CHARS = 1024
EXTRA_CHARS = 256
MAX_EXTRAS = 20
EXCEPTION_CHARS = 2048
EXCEPTION_TAIL = 1536  # the end of a traceback says what went wrong

# Loggers that say too much below these levels, whatever level the app logs at.
LOGGER_FLOORS = {
    # One line per request (`serve` turns the access log off; tests' servers do not).
    "aiohttp.access": logging.WARNING,
    # twilio's HTTP client logs every request and answer at INFO (about ten lines a message,
    # with URLs that name phone numbers): only its warnings are ours to keep.
    "twilio": logging.WARNING,
    # At DEBUG these log each request and answer with its body (messages, names, tokens).
    "slack_sdk": logging.INFO,
    "slack_bolt": logging.INFO,
    "botbuilder": logging.INFO,
    "botframework": logging.INFO,
    "msal": logging.INFO,
    "urllib3": logging.INFO,
    # At INFO SQLAlchemy logs every statement with its parameters; at DEBUG aiosqlite does.
    "sqlalchemy.engine": logging.WARNING,
    "aiosqlite": logging.INFO,
}


class JsonFormatter(logging.Formatter):
    """One bounded JSON line a record: sensitive extras dropped, ids as pseudonyms, free text
    scrubbed, SDK body dumps withheld (see bot/log_privacy.py)."""

    def format(self, record: logging.LogRecord) -> str:
        try:
            return _fit(self._data(record))
        except Exception:
            # Never let logging's handleError print the raw record (it writes the message and
            # its arguments to stderr): say that a line was lost instead.
            return json.dumps({**_head(record), "message": "log record could not be formatted"})

    def _data(self, record: logging.LogRecord) -> dict[str, Any]:
        data = _head(record)
        data["message"] = clip(withhold(record.name, record.getMessage()), MESSAGE_CHARS)
        extras = [(k, v) for k, v in vars(record).items() if k not in _STANDARD]
        for key, value in extras[:MAX_EXTRAS]:
            kept = redact(key, value, EXTRA_CHARS)
            if kept is not DROP:
                data[key[:64] if key not in data else f"extra_{key[:58]}"] = kept
        if len(extras) > MAX_EXTRAS:
            data["extras_cut"] = len(extras) - MAX_EXTRAS
        if record.exc_info:
            text = self.formatException(record.exc_info)
            data["exception"] = clip(text, EXCEPTION_CHARS, keep_tail=EXCEPTION_TAIL)
        if record.stack_info:
            text = self.formatStack(record.stack_info)
            data["stack"] = clip(text, EXCEPTION_CHARS, keep_tail=EXCEPTION_TAIL)
        return data


def _head(record: logging.LogRecord) -> dict[str, Any]:
    return {
        "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower()[:16],
        "logger": record.name[:128],
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def _fit(data: dict[str, Any]) -> str:
    """The line, at most MAX_LINE_BYTES: the longest field is halved until it fits (JSON
    escapes can make a short text long, so the per-field limits alone do not bound it)."""
    line = _dumps(data)
    for _ in range(24):
        if len(line.encode()) <= MAX_LINE_BYTES:
            return line
        data["truncated"] = True
        movable = [k for k in data if k not in _FIXED and k != "truncated"]
        key = max(movable, key=lambda k: len(_dumps(data[k])))
        value = data[key]
        if isinstance(value, str) and len(value) > 64:
            data[key] = value[: len(value) // 2] + CUT_MARK
        elif key == "message":
            data[key] = str(value)[:32] + CUT_MARK
        else:
            del data[key]
        line = _dumps(data)
    return _dumps(
        {**{k: data[k] for k in _FIXED}, "message": "log line too long", "truncated": True}
    )


class QuietNotes(logging.Filter):
    """Drops notes that would mislead an operator. bolt warns at start-up that SLACK_BOT_TOKEN
    from the environment goes unused: on purpose, our `authorize` hands it over."""

    def __init__(self) -> None:
        super().__init__()
        from slack_bolt.logger.messages import (
            warning_client_prioritized_and_token_skipped,
            warning_token_skipped,
        )

        self.notes = frozenset(
            {warning_client_prioritized_and_token_skipped(), warning_token_skipped()}
        )

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith("slack_bolt") and record.getMessage() in self.notes)


def setup_logging(
    level: str | int = "INFO", *, stream: TextIO | None = None, secret: str | None = None
) -> logging.Handler:
    """The root logger writes bounded, pseudonymous JSON lines to `stream` (stderr).

    `secret` (Settings.secret) keys the pseudonyms, so all processes of one installation log
    the same pseudonym for the same account. Returns the handler (tests capture with it).
    """
    if secret is not None:
        use_secret(secret)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(QuietNotes())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name, floor in LOGGER_FLOORS.items():
        logging.getLogger(name).setLevel(max(floor, root.level))
    return handler
