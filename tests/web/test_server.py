"""The HTTP server's own endpoints: health, readiness, metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_runtime
from bot.config import Settings
from bot.server import create_web_app
from tests.support.org import Org


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    runtime = build_runtime(settings)
    async with TestClient(TestServer(create_web_app(runtime, background=False))) as client:
        yield client


async def test_healthz_and_readyz(client: TestClient) -> None:
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200 and (await ready.json()) == {"status": "ready"}


async def test_readyz_is_503_when_the_database_is_down(settings: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    broken = settings.model_copy(
        update={"database_url": "postgresql+asyncpg://postgres@127.0.0.1:1/none"}
    )
    async with TestClient(TestServer(create_web_app(build_runtime(broken), background=False))) as c:
        response = await c.get("/readyz")
        assert response.status == 503
        assert (await c.get("/healthz")).status == 200  # the process itself is alive
        assert (await c.get("/metrics")).status == 200


async def test_metrics_show_events_and_outbox_depth(client: TestClient, org: Org) -> None:
    await org.say("emp0", "hallo")
    await org.say("emp0", "hallo", event_id="dup-1")
    await org.say("emp0", "hallo", event_id="dup-1")
    body = await (await client.get("/metrics")).text()
    assert 'achterban_inbound_events_total{channel="console"}' in body
    assert 'achterban_inbound_duplicates_total{channel="console"}' in body
    depth = [line for line in body.splitlines() if line.startswith("achterban_outbox_depth{")]
    assert depth == ['achterban_outbox_depth{channel="console"} 2.0']
    assert "achterban_handle_seconds_bucket" in body


def test_channels_without_credentials_are_off(settings: Settings) -> None:
    runtime = build_runtime(settings)
    assert set(runtime.mounts) == {"web"}  # the web chat needs no credentials
    platforms = {k: v for k, v in runtime.channel_notes.items() if k != "web"}
    assert set(platforms) == {"slack", "teams", "whatsapp"}
    assert all(note.startswith("off (") for note in platforms.values())


def test_production_refuses_unsafe_settings(settings: Settings) -> None:
    from bot.errors import ConfigError

    unsafe = settings.model_copy(
        update={"env": "production", "teams_emulator": True, "public_url": "http://bot.example"}
    )
    with pytest.raises(ConfigError) as raised:
        unsafe.check()
    assert "TEAMS_EMULATOR" in str(raised.value) and "https" in str(raised.value)
    settings.model_copy(update={"env": "production", "public_url": "https://bot.example"}).check()
