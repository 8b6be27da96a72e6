"""Web chat invitations: nobody obtains one for someone else (issue 11, finding 2).

An OR member cannot make one at all; a person with Slack, Teams or WhatsApp gets theirs there
and the admin never sees the link; only a person without such a channel gets a printed one,
audited as the admin's act and announced to whoever opens it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import pytest
import typer
from aiohttp.test_utils import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from bot.app import new_engine
from bot.cli.web import admin_app, web_app
from bot.config import Settings
from bot.engine import Engine
from bot.messages import Outgoing
from bot.usecases.access import announcement, printed_by
from storage.db import Database
from storage.models import AuditEntry, ChannelAccount, OutboxMessage
from storage.web import CHAT
from storage.web_models import LoginLink
from tests.e2e.support import another_browser, client_for, form_csrf, join_chat, log_in, set_roles
from tests.support.databases import count
from tests.support.org import Org

JOIN = "/chat/join/"
T = TypeVar("T")


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    async with client_for(settings) as client:
        yield client


async def _audit(engine: Engine, action: str) -> list[AuditEntry]:
    async with engine.db.transaction(read_only=True) as session:
        stmt = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list((await session.execute(stmt)).scalars())


async def _outbox(engine: Engine, person_id: int) -> list[tuple[str, str, Outgoing]]:
    async with engine.db.transaction(read_only=True) as session:
        stmt = (
            select(OutboxMessage)
            .where(OutboxMessage.person_id == person_id)
            .order_by(OutboxMessage.id)
        )
        rows = (await session.execute(stmt)).scalars().all()
    return [(r.channel, r.account, Outgoing.from_json(r.payload)) for r in rows if r.payload]


async def _link_slack(engine: Engine, person_id: int, user: str) -> None:
    async with engine.db.transaction() as session:
        session.add(ChannelAccount(channel="slack", platform_id=user, person_id=person_id))


def _printed_url(html: str) -> str:
    return html.split('class="url"><a href="')[1].split('"')[0]


async def test_an_or_member_cannot_make_an_invitation(
    client: TestClient, engine: Engine, org: Org
) -> None:
    csrf = await log_in(client, engine, org.people["olga"])  # OR member, not admin
    target = org.people["mo"]  # a moderator: his chat would open unblurred originals
    page = await (await client.get(f"/admin/people/{target.id}")).text()
    assert f"/admin/people/{target.id}/invite" not in page
    response = await client.post(f"/admin/people/{target.id}/invite", data={"csrf": csrf})
    assert response.status == 403 and JOIN not in await response.text()
    assert await count(engine.db, LoginLink, LoginLink.purpose == CHAT) == 0
    assert await _outbox(engine, target.id) == []


async def test_a_person_with_a_channel_gets_it_there_and_the_admin_never_sees_it(
    client: TestClient, engine: Engine, org: Org
) -> None:
    olga, emp0 = org.people["olga"], org.people["emp0"]
    await set_roles(engine, olga, {"or_member", "admin"})
    csrf = await log_in(client, engine, olga)
    await _link_slack(engine, emp0.id, "UEMP0")
    page = await (await client.get(f"/admin/people/{emp0.id}")).text()
    assert "Uitnodiging sturen" in page and "printen" not in page
    response = await client.post(f"/admin/people/{emp0.id}/invite", data={"csrf": csrf})
    html = await response.text()
    assert response.status == 200 and JOIN not in html
    assert "gestuurd via Slack" in html
    [(channel, account, message)] = await _outbox(engine, emp0.id)
    assert (channel, account) == ("slack", "UEMP0")
    assert f"http://127.0.0.1:8080{JOIN}" in message.text
    [sent] = await _audit(engine, "web.invite_sent")
    assert (sent.actor_id, sent.subject) == (olga.id, f"person:{emp0.id}")
    assert sent.details["channel"] == "slack"
    assert await _audit(engine, "web.invite_printed") == []

    # Opened by emp0: no "made for you by" notice, since nobody but emp0 saw the link.
    path = "/" + message.text.split("8080/")[1].split()[0]
    async with another_browser(client) as browser:
        landing = await (await browser.get(path)).text()
    assert "Emp0" in landing and "aangemaakt door" not in landing


async def test_an_admin_prints_one_only_for_someone_without_a_channel(
    client: TestClient, engine: Engine, org: Org
) -> None:
    olga, emp4 = org.people["olga"], org.people["emp4"]
    await set_roles(engine, olga, {"or_member", "admin"})
    csrf = await log_in(client, engine, olga)
    # The terminal's mailbox (made for everyone a poll reaches) is not a channel of theirs.
    await org.say("emp4", "hallo")
    page = await (await client.get(f"/admin/people/{emp4.id}")).text()
    assert "Uitnodiging maken om te printen" in page
    response = await client.post(f"/admin/people/{emp4.id}/invite", data={"csrf": csrf})
    html = await response.text()
    assert response.status == 200 and _printed_url(html).startswith(f"http://127.0.0.1:8080{JOIN}")
    [printed] = await _audit(engine, "web.invite_printed")
    assert (printed.actor_id, printed.subject) == (olga.id, f"person:{emp4.id}")
    assert [r for r in await _outbox(engine, emp4.id) if JOIN in r[2].text] == []


async def test_first_use_of_a_printed_invitation_says_who_made_it(
    client: TestClient, engine: Engine, org: Org
) -> None:
    olga, emp6 = org.people["olga"], org.people["emp6"]
    await set_roles(engine, olga, {"or_member", "admin"})
    csrf = await log_in(client, engine, olga)
    html = await (await client.post(f"/admin/people/{emp6.id}/invite", data={"csrf": csrf})).text()
    path = "/" + _printed_url(html).split("8080/")[1]
    async with another_browser(client) as browser:
        landing = await (await browser.get(path)).text()
        assert "Deze uitnodiging is voor je aangemaakt door Olga op" in landing
        joined = await browser.post(path, data={"csrf": form_csrf(landing)})
        chat = await joined.text()
    assert joined.status == 200 and "Deze uitnodiging is voor je aangemaakt door Olga op" in chat
    [entry] = await _audit(engine, "web.chat_joined")
    assert entry.actor_id == emp6.id and entry.details == {"printed": True}


async def test_a_live_web_chat_is_told_when_an_invitation_is_printed(
    client: TestClient, engine: Engine, org: Org, settings: Settings
) -> None:
    olga, emp2 = org.people["olga"], org.people["emp2"]
    async with client_for(settings) as employee:
        await join_chat(employee, engine, emp2)
        await set_roles(engine, olga, {"or_member", "admin"})
        csrf = await log_in(client, engine, olga)
        await client.post(f"/admin/people/{emp2.id}/invite", data={"csrf": csrf})
        chat = await (await employee.get("/chat")).text()
    assert "Olga heeft op" in chat and "een uitnodiging voor de webchat voor je aangemaakt" in chat


def _cli(settings: Settings) -> typer.Typer:
    cli = typer.Typer()
    cli.add_typer(web_app, name="web")
    cli.add_typer(admin_app, name="admin")
    return cli


def test_the_cli_sends_it_through_the_channel_and_prints_only_without_one(
    org: Org, settings: Settings
) -> None:
    env = {
        "ACHTERBAN_DATABASE_URL": settings.db_url,
        "ACHTERBAN_DATA_DIR": str(settings.data_dir),
        "ACHTERBAN_PUBLIC_URL": "https://or.example",
    }
    emp0, olga = org.people["emp0"], org.people["olga"]
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(_cli(settings), list(args), env=env)
        assert result.exit_code == 0, result.output
        return str(result.stdout)

    def look(check: Callable[[Engine], Awaitable[T]]) -> T:
        """Run `check` on an engine of its own (the CLI runs its own event loops)."""

        async def go() -> T:
            database = Database(settings.db_url)
            try:
                return await check(new_engine(database, settings))
            finally:
                await database.dispose()

        return asyncio.run(go())

    look(lambda engine: _link_slack(engine, emp0.id, "UEMP0"))
    assert "https://" not in run("web", "invite", "emp0@example.org")
    [(channel, _account, message)] = look(lambda engine: _outbox(engine, emp0.id))
    assert channel == "slack" and "https://or.example/chat/join/" in message.text

    url = run("web", "invite", "emp1@example.org").strip().splitlines()[-1]
    assert url.startswith("https://or.example/chat/join/")
    [printed] = look(lambda engine: _audit(engine, "web.invite_printed"))
    assert (printed.actor_id, printed.details["via"]) == (None, "cli")

    async def announced(engine: Engine) -> str:
        async with engine.db.transaction(read_only=True) as session:
            by = await printed_by(session, url.rsplit("/", 1)[1])
        assert by is not None
        return announcement("nl", by, engine.timezone)

    assert "aangemaakt door de beheerder van de server" in look(announced)

    # The operator's dashboard link is the operator's act, not Olga's.
    run("admin", "login-link", "olga@example.org")
    [made] = look(lambda engine: _audit(engine, "web.login_link_created"))
    assert (made.actor_id, made.subject) == (None, f"person:{olga.id}")
