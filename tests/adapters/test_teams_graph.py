"""Teams reach through Microsoft Graph, against a fake Graph and token endpoint on loopback
(tests/fakes/graph_api.py): a colleague who never opened the bot gets it installed, and the
reference built from the Graph chat carries a real send through botbuilder to the fake Bot
Connector."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from adapters.teams import TeamsAdapter
from adapters.teams_graph import GraphConfig, TeamsInstaller
from bot.app import new_engine
from bot.config import Settings
from bot.engine import Engine
from bot.errors import ConfigError
from bot.messages import DeliveryError, Outgoing, Recipient
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.graph_api import FakeGraph

APP_ID = "a1b2c3d4-0000-4000-8000-0000000000aa"
APP_PASSWORD = "graph-app-password"
TENANT = "72f988bf-0000-4000-8000-0000000000aa"
CATALOG_ID = "b1c5353a-7aca-41b3-830f-27d5218fe0e5"
EMP0 = "0f7c3a52-1111-4c1e-9a55-000000000000"


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    fake = await FakeGraph(TENANT, APP_ID, APP_PASSWORD, CATALOG_ID).start()
    fake.add_user(EMP0, "emp0@example.org")
    yield fake
    await fake.close()


@pytest.fixture
def connector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBotConnector]:
    with FakeBotConnector(APP_ID, APP_PASSWORD).serve(tmp_path) as fake:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", fake.ca_file)  # MSAL trusts the test CA
        yield fake


def graph_settings(settings: Settings, graph: FakeGraph, **extra: object) -> Settings:
    """What bot/config.py is to hold (see docs/delivery.md): on, the catalog id, test URLs."""
    return settings.model_copy(
        update={
            "microsoft_app_id": APP_ID,
            "microsoft_app_password": SecretStr(APP_PASSWORD),
            "microsoft_app_tenant_id": TENANT,
            "teams_graph_install": True,
            "teams_app_catalog_id": CATALOG_ID,
            "graph_api_url": graph.api_url,
            "graph_login_url": graph.url,
            **extra,
        }
    )


@pytest.fixture
async def installer(settings: Settings, graph: FakeGraph) -> AsyncIterator[TeamsInstaller]:
    config = GraphConfig.from_settings(graph_settings(settings, graph))
    assert config is not None
    reach = TeamsInstaller(config)
    yield reach
    await reach.close()


async def test_a_colleague_who_never_wrote_is_installed_and_reached(
    settings: Settings, graph: FakeGraph, connector: FakeBotConnector, db: object
) -> None:
    cfg = graph_settings(settings, graph, teams_service_url=connector.url,
                         teams_login_url=connector.login_url)  # fmt: skip
    config = GraphConfig.from_settings(cfg)
    assert config is not None
    installer = TeamsInstaller(config)
    try:
        reach = await installer.reach("emp0@example.org")
    finally:
        await installer.close()
    assert reach.aad_id == EMP0 and graph.installed.keys() == {EMP0}
    assert graph.calls == [
        ("GET", f"users/{'emp0@example.org'}"),
        ("POST", f"users/{EMP0}/teamwork/installedApps"),
        ("GET", f"users/{EMP0}/teamwork/installedApps"),
        ("GET", f"users/{EMP0}/teamwork/installedApps/{graph.installed[EMP0]}/chat"),
    ]
    (token,) = graph.token_requests  # one token for all four calls
    assert token["grant_type"] == "client_credentials"
    assert token["scope"] == "https://graph.microsoft.com/.default"
    ref = reach.conversation_ref
    assert ref["conversation"] == {
        "id": graph.chat_of(EMP0), "conversationType": "personal", "tenantID": TENANT,
    }  # fmt: skip
    assert ref["bot"]["id"] == f"28:{APP_ID}" and ref["serviceUrl"] == connector.url

    # The reference works: the Teams adapter writes first, into that chat.
    teams = TeamsAdapter(cfg, new_engine(db, cfg))  # type: ignore[arg-type]
    result = await teams.send(Recipient(EMP0, ref), teams.render(Outgoing("Welkom!")))
    (activity,) = connector.sent(graph.chat_of(EMP0))
    assert result.platform_message_id == activity["_id"]
    assert activity["summary"] == "Welkom!"
    await teams.close()


async def test_already_installed_and_a_known_id_need_less(
    installer: TeamsInstaller, graph: FakeGraph
) -> None:
    first = await installer.reach(EMP0)  # a directory id: no user lookup
    graph.calls.clear()
    again = await installer.reach(EMP0)
    assert again == first
    assert [c[0] for c in graph.calls] == ["POST", "GET", "GET"]  # POST answered 409


async def test_an_address_that_is_not_the_upn_is_found_as_mail(
    installer: TeamsInstaller, graph: FakeGraph
) -> None:
    graph.add_user("0f7c3a52-2222-4c1e-9a55-000000000000", "e.mp1@corp.example", "emp1@example.org")
    assert (
        await installer.directory_id("emp1@example.org") == "0f7c3a52-2222-4c1e-9a55-000000000000"
    )


async def test_strangers_and_missing_consent_fail_for_good(
    installer: TeamsInstaller, graph: FakeGraph
) -> None:
    with pytest.raises(DeliveryError) as stranger:
        await installer.reach("nobody@example.org")
    assert stranger.value.permanent and "not in the directory" in stranger.value.reason
    graph.fail_next(403)
    with pytest.raises(DeliveryError) as refused:
        await installer.reach(EMP0)
    assert refused.value.permanent
    assert "TeamsAppInstallation.ReadWriteSelfForUser.All" in refused.value.reason
    assert graph.installed == {}


async def test_throttling_waits_and_a_revoked_token_is_renewed(
    installer: TeamsInstaller, graph: FakeGraph
) -> None:
    graph.fail_next(429, retry_after=7)
    with pytest.raises(DeliveryError) as throttled:
        await installer.reach(EMP0)
    assert (throttled.value.permanent, throttled.value.retry_after) == (False, 7)
    assert throttled.value.extra == {"scope": "conversation"}  # Graph's limit, not Teams'
    graph.issued.clear()  # every token revoked
    assert (await installer.reach(EMP0)).aad_id == EMP0
    assert len(graph.token_requests) == 2


def test_off_by_default_and_complete_when_on(settings: Settings) -> None:
    assert GraphConfig.from_settings(settings) is None
    on = settings.model_copy(update={"teams_graph_install": True, "microsoft_app_id": APP_ID})
    with pytest.raises(ConfigError) as missing:
        GraphConfig.from_settings(on)
    assert "MicrosoftAppTenantId" in str(missing.value)
    assert "ACHTERBAN_TEAMS_APP_CATALOG_ID" in str(missing.value)


async def test_the_adapter_installs_on_its_first_message_and_waits_out_throttling(
    settings: Settings, graph: FakeGraph, connector: FakeBotConnector, engine: Engine
) -> None:
    cfg = graph_settings(settings, graph, teams_service_url=connector.url,
                         teams_login_url=connector.login_url)  # fmt: skip
    teams = TeamsAdapter(cfg, new_engine(engine.db, cfg))
    rendered = teams.render(Outgoing("Welkom!"))
    try:
        graph.fail_next(429, retry_after=7)
        with pytest.raises(DeliveryError) as throttled:
            await teams.send(Recipient(EMP0), rendered)
        assert (throttled.value.permanent, throttled.value.retry_after) == (False, 7)
        assert throttled.value.extra == {"scope": "conversation"}  # only this person waits
        assert connector.sent() == []
        await teams.send(Recipient(EMP0), rendered)
        calls = len(graph.calls)
        await teams.send(Recipient(EMP0), rendered)  # kept in memory: Graph is not asked
        assert len(graph.calls) == calls
        assert len(connector.sent(graph.chat_of(EMP0))) == 2
        with pytest.raises(DeliveryError) as stranger:
            await teams.send(Recipient("0f7c3a52-9999-4c1e-9a55-000000000000"), rendered)
        assert stranger.value.permanent
        assert stranger.value.reason.startswith("unreachable on Teams: not in the directory")
    finally:
        await teams.close()


def test_graph_installation_on_but_incomplete_stops_the_adapter(
    settings: Settings, engine: Engine
) -> None:
    on = settings.model_copy(
        update={"teams_graph_install": True, "microsoft_app_id": APP_ID,
                "microsoft_app_password": SecretStr(APP_PASSWORD)}
    )  # fmt: skip
    with pytest.raises(ConfigError) as missing:
        TeamsAdapter(on, engine)
    assert "MicrosoftAppTenantId" in str(missing.value)
    lookups = on.model_copy(update={"microsoft_app_tenant_id": TENANT})
    config = GraphConfig.for_directory(lookups)  # lookups need no catalog id
    assert (config.tenant_id, config.catalog_app_id) == (TENANT, "")
