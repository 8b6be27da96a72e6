"""The log names nobody and stays small, whatever is sent to us (issue 11, findings 5 and 6).

End to end: our real server (Slack through bolt, WhatsApp through Twilio's signatures) with
everything logged through the real handler of `setup_logging`, as `serve` logs. Then the
formatter on its own, with a record that carries every kind of sensitive extra.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy.exc import IntegrityError

from bot.app import build_runtime
from bot.config import Settings
from bot.log_privacy import CUT_MARK, pseudonym, use_secret
from bot.logs import MAX_LINE_BYTES
from bot.server import create_web_app
from storage.db import Database
from storage.models import Person
from tests.adapters.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL, SENDER
from tests.fakes.slack_api import FakeSlackApi, Slack, slack_settings
from tests.fakes.twilio_api import FakeTwilio, inbound_form, signature_headers
from tests.support.logs import captured_logs

# Realistic ids: Slack's are 9 to 11 characters, Teams' start with 29:.
SLACK_USER = "U07ANNA4321"
TEAMS_USER = "29:1k8xQvZ3pLr7TmN2bWcY5dHfGj"
NAME = "Annemarie Vriesendorp"
EMAIL = "annemarie.vriesendorp@voorbeeld.nl"
PHONE = "+31612345678"
TEXT = "Mijn leidinggevende scheldt iedere ochtend"
PER_REQUEST = 8 * 1024  # what one request may add to the log, at most


def leaks(log: str) -> list[str]:
    """What of the person and what they wrote appears in `log`."""
    secrets = [SLACK_USER, "D" + SLACK_USER[1:], TEAMS_USER, NAME, "Vriesendorp", EMAIL]
    secrets += [PHONE, PHONE.removeprefix("+"), TEXT, "scheldt"]
    return [s for s in secrets if s in log]


@dataclass
class Served:
    slack: Slack
    twilio_url: str


@pytest.fixture
async def served(settings: Settings, db: Database) -> AsyncIterator[Served]:
    """Our server with Slack and WhatsApp on, each talking to its fake platform."""
    api = await FakeSlackApi().start()
    api.add_user(SLACK_USER, EMAIL, NAME)
    twilio = await FakeTwilio(ACCOUNT_SID, AUTH_TOKEN).start()
    both = slack_settings(settings, api).model_copy(
        update={
            "twilio_account_sid": ACCOUNT_SID,
            "twilio_auth_token": SecretStr(AUTH_TOKEN),
            "twilio_whatsapp_from": SENDER,
            "twilio_api_url": twilio.url,
            "public_url": PUBLIC_URL,
        }
    )
    runtime = build_runtime(both)
    server = TestServer(create_web_app(runtime, background=False), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            url = str(server.make_url("")).rstrip("/")
            yield Served(Slack(api, runtime, url, http), url + "/twilio/whatsapp")
    finally:
        await server.close()
        await twilio.close()
        await api.stop()


class Growth:
    """How much each request added to the captured log."""

    def __init__(self, log: io.StringIO) -> None:
        self.log = log
        self.sizes: list[int] = []

    def mark(self) -> None:
        self.sizes.append(len(self.log.getvalue().encode()))

    def largest(self) -> int:
        return max(b - a for a, b in zip(self.sizes, self.sizes[1:], strict=False))


async def test_an_unsigned_megabyte_adds_a_short_line_not_the_body(
    served: Served, settings: Settings
) -> None:
    body = json.dumps({"type": "event_callback", "event": {"text": "GEHEIM " * 142_000}})
    assert len(body) > 990_000  # just under the server's 1 MiB limit
    slack = served.slack
    with captured_logs(secret=settings.secret) as log:
        headers = {"Content-Type": "application/json"}
        async with slack.http.post(slack.url + "/slack/events", data=body, headers=headers) as r:
            assert r.status == 401
        await r.release()
    text = log.getvalue()
    assert "slack request refused: no valid signature" in text
    assert "GEHEIM" not in text
    assert len(text.encode()) < PER_REQUEST


async def test_a_late_signed_message_is_not_logged(served: Served, settings: Settings) -> None:
    with captured_logs(secret=settings.secret) as log:
        growth = Growth(log)
        growth.mark()
        assert await served.slack.dm(SLACK_USER, TEXT, timestamp=int(time.time()) - 600) == 401
        growth.mark()
    text = log.getvalue()
    assert "slack request refused: no valid signature" in text
    assert leaks(text) == []
    assert growth.largest() < PER_REQUEST


async def test_a_platform_id_is_logged_only_as_its_pseudonym(
    served: Served, settings: Settings
) -> None:
    served.slack.api.fail("users.info", error="user_not_found")
    with captured_logs(secret=settings.secret) as log:
        assert await served.slack.dm(SLACK_USER, TEXT + " " + EMAIL) == 200
    text = log.getvalue()
    assert "slack users.info failed" in text
    assert pseudonym(SLACK_USER) in text
    assert leaks(text) == []


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_whatsapp_and_slack_messages_leave_no_trace_of_the_person(
    served: Served, settings: Settings, level: str
) -> None:
    """At DEBUG too: the SDKs' loggers that dump requests stay at INFO (bot/logs.py)."""
    form = inbound_form(TEXT, phone=PHONE, account_sid=ACCOUNT_SID, to=SENDER, profile_name=NAME)
    http = served.slack.http
    with captured_logs(level, secret=settings.secret) as log:
        growth = Growth(log)
        growth.mark()
        headers = signature_headers(AUTH_TOKEN, PUBLIC_URL + "/twilio/whatsapp", form)
        async with http.post(served.twilio_url, data=form, headers=headers) as r:
            assert r.status == 200
        growth.mark()
        forged = {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}
        async with http.post(served.twilio_url, data=form, headers=forged) as r:
            assert r.status == 403
        growth.mark()
        assert await served.slack.dm(SLACK_USER, TEXT) == 200
        growth.mark()
    text = log.getvalue()
    assert "twilio signature rejected" in text  # the capture works
    assert leaks(text) == []
    if level == "INFO":
        assert growth.largest() < PER_REQUEST


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_a_database_error_is_logged_without_the_values(
    db: Database, settings: Settings, level: str
) -> None:
    """Nor do the drivers' debug lines name the values (aiosqlite's quote every statement)."""
    async with db.transaction() as session:
        session.add(Person(name="Someone", email=EMAIL, language="nl"))
    with captured_logs(level, secret=settings.secret) as log:
        try:
            async with db.transaction() as session:
                session.add(Person(name=NAME, email=EMAIL, phone=PHONE, language="nl"))
                await session.flush()
        except IntegrityError:
            logging.getLogger("bot.engine").exception("dialog failed")
    text = log.getvalue()
    assert "IntegrityError" in text
    assert leaks(text) == []


async def test_an_outage_logs_the_route_not_a_token_in_the_path(settings: Settings) -> None:
    """A login or invitation link in the log would let its readers act as that person."""
    down = settings.model_copy(
        update={"database_url": "postgresql+asyncpg://postgres@127.0.0.1:1/none"}
    )
    token = "Zq8Invitation0Token0Of0Someone0Else0xYz"
    server = TestServer(create_web_app(build_runtime(down), background=False), host="127.0.0.1")
    with captured_logs(secret=settings.secret) as log:
        async with TestClient(server) as client:
            assert (await client.get(f"/chat/join/{token}")).status == 503
    text = log.getvalue()
    assert "/chat/join/{token}" in text
    assert token not in text


# --- the formatter on its own ---------------------------------------------------------------


@pytest.fixture
def secret_key() -> str:
    key = "a-secret-key-for-the-log-tests-only-0123456789"
    use_secret(key)
    return key


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_every_sensitive_extra_is_dropped_or_pseudonymised(secret_key: str) -> None:
    sql = (
        "(sqlalchemy.dialects.postgresql.asyncpg.IntegrityError) duplicate key value violates "
        f'unique constraint "people_email_key"\nDETAIL:  Key (email)=({EMAIL}) already exists.\n'
        "[SQL: INSERT INTO people (name, email) VALUES ($1::VARCHAR, $2::VARCHAR)]\n"
        f"[parameters: ('{NAME}', '{EMAIL}')]"
    )
    with captured_logs(secret=secret_key) as log:
        try:
            raise RuntimeError(sql)
        except RuntimeError:
            logging.getLogger("bot.test").exception(
                "lookup for %s (%s, %s) failed",
                EMAIL,
                TEAMS_USER,
                "whatsapp:" + PHONE,
                extra={
                    "text": TEXT,
                    "body": TEXT,
                    "email": EMAIL,
                    "phone": PHONE,
                    "display_name": NAME,
                    "account": "whatsapp:" + PHONE,
                    "platform_id": TEAMS_USER,
                    "user": SLACK_USER,
                    "sender": "whatsapp:" + PHONE,
                    "details": {"user": SLACK_USER, "text": TEXT, "reason": "timeout"},
                    "channel": "slack",
                },
            )
    [line] = _lines(log.getvalue())
    assert leaks(json.dumps(line, ensure_ascii=False)) == []
    for dropped in ("text", "body", "email", "phone", "display_name"):
        assert dropped not in line
    assert line["account"] == line["sender"] == pseudonym("whatsapp:" + PHONE)
    assert line["platform_id"] == pseudonym(TEAMS_USER)
    assert line["user"] == pseudonym(SLACK_USER)
    assert line["details"] == {"user": pseudonym(SLACK_USER), "reason": "timeout"}
    assert line["channel"] == "slack"
    assert pseudonym(EMAIL) in str(line["message"])
    assert pseudonym(TEAMS_USER) in str(line["message"])
    assert "[parameters withheld]" in str(line["exception"])
    assert "Key (email)=(…) already exists" in str(line["exception"])


def test_a_pseudonym_is_ten_hex_digits_keyed_by_the_secret(secret_key: str) -> None:
    mine = pseudonym(SLACK_USER)
    assert len(mine) == 10 and int(mine, 16) >= 0
    assert pseudonym(SLACK_USER) == mine
    assert pseudonym("U07OTHER999") != mine
    use_secret("another-installation-another-secret-key-000")
    assert pseudonym(SLACK_USER) != mine
    use_secret(secret_key)
    with captured_logs(secret=secret_key) as log:  # one from the call site stays as it is
        logging.getLogger("bot.test").warning("x", extra={"account": mine})
    assert _lines(log.getvalue())[0]["account"] == mine


def test_every_line_is_bounded_however_much_a_record_carries(secret_key: str) -> None:
    huge = "ä" * 1_000_000
    with captured_logs(secret=secret_key) as log:
        try:
            raise ValueError(huge)
        except ValueError:
            logging.getLogger("aiohttp.server").exception(
                huge, extra={f"x{i}": huge for i in range(100)}
            )
        logging.getLogger("bot.test").warning("\x00" * 100_000)  # JSON escapes it sixfold
    lines = log.getvalue().splitlines()
    assert len(lines) == 2
    for line in lines:
        assert len(line.encode()) <= MAX_LINE_BYTES
        assert CUT_MARK in line


def test_an_address_cut_by_the_limit_leaves_no_half(secret_key: str) -> None:
    addresses = " ".join([EMAIL] * 300)  # scrubbing shortens them: the cut moves
    with captured_logs(secret=secret_key) as log:
        logging.getLogger("bot.test").warning(addresses)
        logging.getLogger("bot.test").warning("x" * 1000 + " " + EMAIL)
    text = log.getvalue()
    assert "annemarie" not in text and "voorbeeld" not in text


def test_bolt_body_dumps_and_start_up_notes_are_withheld(secret_key: str) -> None:
    from slack_bolt.logger.messages import warning_token_skipped

    with captured_logs(secret=secret_key) as log:
        logging.getLogger("slack_bolt.RequestVerification").info(
            f"Invalid request signature detected (signature: v0=ab, timestamp: 1, body: {TEXT})"
        )
        logging.getLogger("slack_bolt.AsyncApp").info(f"request body: {TEXT}")
        logging.getLogger("slack_bolt.AsyncApp").warning(warning_token_skipped())
    lines = _lines(log.getvalue())
    assert [line["message"] for line in lines] == [
        "Invalid request signature detected (request withheld)",
        "request body: (request withheld)",
    ]
