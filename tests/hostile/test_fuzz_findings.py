"""What the fuzz test (test_fuzz_routes.py) found beyond finding 8, one regression test each:
a non-ASCII CSRF token (hmac.compare_digest raised), a multipart or form body aiohttp cannot
parse, a static file name too long for the file system, a Teams activity whose attachments
list holds a null, a signed Slack body whose authorizations is no list."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient

from bot.engine import Engine
from storage.models import InboundEvent
from tests.adapters.test_teams import Bot
from tests.e2e.support import client_for, log_in
from tests.fakes.slack_api import FORM, Slack, dm_event, event_body
from tests.support.databases import count
from tests.support.org import Org


@pytest.fixture
async def client(settings) -> AsyncIterator[TestClient]:  # type: ignore[no-untyped-def]
    async with client_for(settings) as client:
        yield client


async def test_a_csrf_token_that_is_not_ascii_is_403(
    client: TestClient, engine: Engine, org: Org
) -> None:
    await log_in(client, engine, org.people["olga"])
    response = await client.post("/admin/polls", data={"csrf": "é" * 64})
    assert response.status == 403


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (
            b'--b\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n',
            "multipart/form-data; boundary=b",
        ),
        (b"csrf=%FF%FE", "application/x-www-form-urlencoded"),
        (b"csrf=x", "application/x-www-form-urlencoded; charset=nonsense"),
    ],
    ids=["multipart cut short", "not utf-8", "unknown charset"],
)
async def test_a_body_aiohttp_cannot_parse_is_a_4xx(
    client: TestClient, engine: Engine, org: Org, body: bytes, content_type: str
) -> None:
    await log_in(client, engine, org.people["olga"])
    response = await client.post("/admin/polls", data=body, headers={"Content-Type": content_type})
    # 400 where aiohttp cannot parse it; a form it decodes with replacement characters has
    # no valid token (403).
    assert response.status in (400, 403)


async def test_a_static_file_name_too_long_is_404(client: TestClient) -> None:
    assert (await client.get("/static/" + "x" * 5000)).status == 404


async def test_a_teams_activity_with_a_null_attachment_is_handled(
    bot: Bot, engine: Engine, org: Org
) -> None:
    activity = bot.message("emp0", "hallo", attachments=[None])
    assert (await bot.post(activity)).status == 200
    install = bot.install("emp1")
    install["membersAdded"] = [None, *install["membersAdded"]]
    assert (await bot.post(install)).status == 200


async def test_a_signed_slack_body_whose_authorizations_is_no_list_is_400(
    slack: Slack, engine: Engine
) -> None:
    envelope = json.loads(event_body(dm_event("UEMP0", "hallo")))
    for authorizations in ({}, "x", [1]):
        body = json.dumps({**envelope, "authorizations": authorizations})
        assert (await slack.post(body))[0] == 400, authorizations
        form = "payload=" + quote(
            json.dumps({"type": "block_actions", "authorizations": authorizations})
        )
        assert (await slack.post(form, FORM))[0] == 400, authorizations
    assert await count(engine.db, InboundEvent) == 0
