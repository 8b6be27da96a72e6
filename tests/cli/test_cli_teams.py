"""`achterban teams sync` against a fake Microsoft Graph (tests/fakes/graph_api.py), and what
follows for broadcasts: with Graph installation on, the worker installs the app for people the
sync linked and writes first, through botbuilder, to the fake Bot Connector
(tests/fakes/bot_connector.py); with it off, `broadcast status` counts them as unreachable."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from pydantic import SecretStr
from sqlalchemy import select
from typer.testing import CliRunner

from adapters.teams import NO_REFERENCE, TeamsAdapter
from bot.app import new_engine
from bot.cli.broadcast import broadcast_app
from bot.cli.teams import teams_app
from bot.config import Settings
from bot.delivery import DeliveryWorker
from bot.engine import Engine
from storage.models import ChannelAccount, OutboxMessage, Person
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.graph_api import FakeGraph
from tests.support.broadcasts import Channel
from tests.support.org import Org

APP_ID = "a1b2c3d4-0000-4000-8000-0000000000cc"
APP_PASSWORD = "graph-sync-password"
TENANT = "72f988bf-0000-4000-8000-0000000000cc"
CATALOG_ID = "b1c5353a-7aca-41b3-830f-27d5218fe0cc"
EMP0 = "0f7c3a52-1111-4c1e-9a55-0000000000c0"
EMP1 = "0f7c3a52-1111-4c1e-9a55-0000000000c1"
EMP7 = "0f7c3a52-1111-4c1e-9a55-0000000000c7"

app = typer.Typer()
app.add_typer(teams_app, name="teams")
app.add_typer(broadcast_app, name="broadcast")


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.runner = CliRunner()

    async def __call__(self, *args: str, **env: str) -> Any:
        return await asyncio.to_thread(
            self.runner.invoke, app, list(args), env={**self.env, **env}, catch_exceptions=False
        )

    async def json(self, *args: str) -> Any:
        result = await self(*args, "--format", "json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    fake = await FakeGraph(TENANT, APP_ID, APP_PASSWORD, CATALOG_ID).start()
    fake.add_user(EMP0, "emp0@example.org")
    fake.add_user(EMP1, "e.mp1@corp.example", "emp1@example.org")  # UPN is not the address
    fake.add_user(EMP7, "emp7@example.org")
    yield fake
    await fake.close()


@pytest.fixture
def connector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBotConnector]:
    with FakeBotConnector(APP_ID, APP_PASSWORD).serve(tmp_path) as fake:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", fake.ca_file)  # MSAL trusts the test CA
        yield fake


@pytest.fixture
def cli(org: Org, settings: Settings, graph: FakeGraph, tmp_path: Path) -> Cli:
    return Cli(
        {
            "ACHTERBAN_DATABASE_URL": settings.db_url,
            "ACHTERBAN_DATA_DIR": str(tmp_path),
            "MicrosoftAppId": APP_ID,
            "MicrosoftAppPassword": APP_PASSWORD,
            "MicrosoftAppTenantId": TENANT,
            "ACHTERBAN_GRAPH_API_URL": graph.api_url,
            "ACHTERBAN_GRAPH_LOGIN_URL": graph.url,
        }
    )


def worker_settings(
    settings: Settings, graph: FakeGraph, connector: FakeBotConnector, *, install: bool
) -> Settings:
    return settings.model_copy(
        update={
            "microsoft_app_id": APP_ID,
            "microsoft_app_password": SecretStr(APP_PASSWORD),
            "microsoft_app_tenant_id": TENANT,
            "teams_login_url": connector.login_url,
            "teams_graph_install": install,
            "teams_app_catalog_id": CATALOG_ID,
            "teams_service_url": connector.url,
            "graph_api_url": graph.api_url,
            "graph_login_url": graph.url,
        }
    )


async def deliver(cfg: Settings, engine: Engine) -> int:
    """The real worker with the real Teams adapter (and a mailbox for everyone else)."""
    teams = TeamsAdapter(cfg, new_engine(engine.db, cfg))
    worker = DeliveryWorker(engine.db, cfg, {"teams": teams, "console": Channel()})  # type: ignore[dict-item]
    try:
        return await worker.drain()
    finally:
        await teams.close()


async def teams_accounts(engine: Engine) -> dict[str, ChannelAccount]:
    async with engine.db.transaction(read_only=True) as session:
        stmt = (
            select(Person.email, ChannelAccount)
            .join(Person)
            .where(ChannelAccount.channel == "teams")
        )
        return {email: account for email, account in await session.execute(stmt)}


async def broadcast(cli: Cli, text: str) -> str:
    sent = await cli.json("broadcast", "send", "--text", text, "--channel", "teams",
                          "--created-by", "olga@example.org")  # fmt: skip
    return str(sent["id"])


# -- teams sync --------------------------------------------------------------------------------


async def test_sync_links_everyone_in_the_directory_and_lists_the_rest(
    cli: Cli, org: Org, graph: FakeGraph, engine: Engine
) -> None:
    async with engine.db.transaction() as session:
        session.add(Person(name="Zonder Adres"))  # no e-mail: nothing to look up
        services = engine.services(session)
        await services.accounts.link(org.people["emp7"].id, "teams", EMP7)  # wrote before

    result = await cli("teams", "sync", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    others = sorted(f"{k}@example.org" for k in org.people if k not in ("emp0", "emp1", "emp7"))
    assert report == {
        "linked": 2, "already_linked": 1, "not_found": others,
        "conflicts": [], "without_email": ["Zonder Adres"],
    }  # fmt: skip
    assert "not in the directory: emp2@example.org" in result.stderr
    assert "linked now" in result.stderr and "Teams sync" in result.stderr  # the summary table
    accounts = await teams_accounts(engine)
    assert {e: a.platform_id for e, a in accounts.items()} == {
        "emp0@example.org": EMP0, "emp1@example.org": EMP1, "emp7@example.org": EMP7,
    }  # fmt: skip
    # Linked, not installed: no conversation reference, nothing asked of Teams.
    assert all(a.conversation_ref is None for a in accounts.values())
    assert graph.installed == {} and not any(m == "POST" for m, _ in graph.calls)

    # Once more: only those still missing are looked up again.
    graph.calls.clear()
    again = await cli.json("teams", "sync")
    assert (again["linked"], again["already_linked"]) == (0, 3)
    looked_up = {path for _, path in graph.calls if path != "users"}
    assert looked_up == {f"users/{email}" for email in others}


async def test_sync_waits_out_throttling(cli: Cli, graph: FakeGraph) -> None:
    graph.fail_next(429, retry_after=1)
    started = time.monotonic()
    report = await cli.json("teams", "sync")
    assert time.monotonic() - started >= 1.0  # Retry-After honoured
    assert report["linked"] == 3


async def test_sync_names_missing_settings_and_stops_when_graph_refuses(
    cli: Cli, graph: FakeGraph, engine: Engine
) -> None:
    missing = await cli("teams", "sync", MicrosoftAppTenantId="")
    assert missing.exit_code == 2
    assert "MicrosoftAppTenantId" in missing.stderr

    graph.fail_next(403)
    refused = await cli("teams", "sync")
    assert refused.exit_code == 1
    assert "User.ReadBasic.All" in refused.stderr  # the permission to grant
    assert await teams_accounts(engine) == {}


# -- what broadcasts do with them ------------------------------------------------------------


async def test_graph_installation_reaches_people_who_never_wrote(
    cli: Cli, graph: FakeGraph, connector: FakeBotConnector, settings: Settings, engine: Engine
) -> None:
    await cli.json("teams", "sync")
    del graph.users[EMP7]  # left the organisation since the sync
    cfg = worker_settings(settings, graph, connector, install=True)
    first = await broadcast(cli, "Nieuws van de OR")
    await broadcast(cli, "Nog meer nieuws")
    graph.calls.clear()
    assert await deliver(cfg, engine) == 6

    # Installed once per person, though two messages each were due; someone no longer in
    # the directory is asked about each time (and fails for good each time).
    installs = sorted(path for method, path in graph.calls if method == "POST")
    assert installs == [f"users/{u}/teamwork/installedApps" for u in (EMP0, EMP1, EMP7, EMP7)]
    assert graph.installed.keys() == {EMP0, EMP1}
    for aad in (EMP0, EMP1):
        texts = [json.dumps(a) for a in connector.sent(graph.chat_of(aad))]
        assert len(texts) == 2 and "Nieuws van de OR" in texts[0] and "Nog meer" in texts[1]
    accounts = await teams_accounts(engine)
    ref = accounts["emp0@example.org"].conversation_ref
    assert ref is not None
    assert ref["conversation"]["id"] == graph.chat_of(EMP0)
    assert ref["serviceUrl"] == connector.url and ref["bot"]["id"] == f"28:{APP_ID}"
    assert accounts["emp7@example.org"].conversation_ref is None

    status = await cli.json("broadcast", "status", first)
    assert (status["sent"], status["unreachable"]) == (2, 1)
    assert status["unreachable_reasons"] == {"teams_not_in_directory": 1}

    # The next message (another worker, another process) finds the stored reference.
    graph.calls.clear()
    await broadcast(cli, "Derde bericht")
    assert await deliver(cfg, engine) == 3
    assert graph.calls == [("POST", f"users/{EMP7}/teamwork/installedApps")]
    assert len(connector.sent(graph.chat_of(EMP0))) == 3


async def test_without_graph_installation_they_count_as_unreachable(
    cli: Cli, graph: FakeGraph, connector: FakeBotConnector, settings: Settings, engine: Engine
) -> None:
    await cli.json("teams", "sync")
    cfg = worker_settings(settings, graph, connector, install=False)
    broadcast_id = await broadcast(cli, "Nieuws van de OR")
    graph.calls.clear()
    assert await deliver(cfg, engine) == 3
    assert graph.calls == [] and connector.sent() == []
    async with engine.db.transaction(read_only=True) as session:
        rows = (await session.execute(select(OutboxMessage))).scalars().all()
    assert {(r.status, r.last_error) for r in rows} == {("failed", NO_REFERENCE)}
    status = await cli.json("broadcast", "status", broadcast_id)
    assert (status["sent"], status["failed"], status["unreachable"]) == (0, 0, 3)
    assert status["unreachable_reasons"] == {"teams_not_installed": 3}
