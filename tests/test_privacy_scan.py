"""The privacy scan: after anonymous acts through every channel, no row in any table and no log
line links a colleague to what they chose or wrote; after `person forget`, nothing in any
table names them.

The scan finds the tables itself (it reflects the live database), so a table added later is
covered without anyone remembering to add it here. A row "links" when it holds something that
identifies a person (their row id in a column that refers to people, their name, e-mail,
phone or a platform id of theirs) together with something that reveals one of their anonymous
acts (the chosen option's id in a column that refers to poll options, its label, their
answer's or report's text, their secret code, the colleague they nominated).
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection

from bot.app import Runtime, build_runtime
from bot.config import Settings
from bot.delivery import DeliveryWorker
from bot.engine import Engine
from bot.messages import Incoming, Profile
from bot.pacing import UNLIMITED, Pacer
from bot.scheduler import Scheduler
from bot.server import create_web_app
from bot.usecases.nominations import announce
from bot.usecases.questions import open_question
from bot.usecases.surveys import QuestionDraft, SurveyDraft, create_survey
from dialogs.poll import vote_payload
from storage.db import Database
from storage.models import OutboxMessage, Person
from storage.nominations import Nominations
from storage.people import Audience
from storage.questions import Questions
from tests.adapters import test_teams
from tests.adapters.test_teams import APP_ID, APP_PASSWORD
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.openid_keys import OpenIdKeys
from tests.fakes.slack_api import (
    FakeSlackApi,
    Slack,
    block_elements,
    dm_event,
    event_body,
    slack_settings,
)
from tests.fakes.twilio_api import FakeTwilio, inbound_form, signature_headers
from tests.support.logs import captured_logs
from tests.support.polls import create_poll
from tests.support.teams_chat import TeamsChat

_events = itertools.count(1)
TWILIO_SID = "AC" + "5c" * 16
TWILIO_TOKEN = "twilio-auth-token-for-the-privacy-scan"
TWILIO_FROM = "whatsapp:+14155238886"
PUBLIC_URL = "https://achterban.example.org"
# A stored time of day, as SQLite returns it to a plain SELECT ("2026-12-04 12:27:18.006").
TIME_OF_DAY = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d")
OPTIONS = ["Optie-Zwaluw", "Optie-Merel", "Optie-Specht", "Optie-Uil", "Optie-Gaai"]  # buttons


@dataclass
class Colleague:
    """One employee and everything that identifies them or reveals their anonymous acts."""

    key: str
    channel: str
    account: str
    person: Person
    identifiers: set[str] = field(default_factory=set)
    secrets: set[str] = field(default_factory=set)
    secret_options: set[int] = field(default_factory=set)
    secret_people: set[int] = field(default_factory=set)


@dataclass
class Scene:
    runtime: Runtime
    slack: Slack
    colleagues: list[Colleague]
    log: io.StringIO
    teams: TeamsChat  # the Teams colleague's chat, through the real adapter

    @property
    def engine(self) -> Engine:
        return self.runtime.engine

    async def say(self, who: Colleague, text: str = "", *, choice: str | None = None) -> None:
        """One message from `who`, shaped as their channel's adapter shapes it."""
        if who.channel == "slack":
            if choice is not None:
                ref, button = self._button(who.account, choice)
                assert await self.slack.press(who.account, ref, button) == 200
            else:
                assert await self.slack.dm(who.account, text) == 200
            return
        if who.channel == "whatsapp":
            await self._whatsapp(who, text, choice)
            return
        if who.channel == "teams":
            assert who.account == self.teams.account
            await (self.teams.press(choice) if choice is not None else self.teams.say(text))
            return
        incoming = self._incoming(who, text, choice)
        await self.engine.handle(incoming)

    async def _whatsapp(self, who: Colleague, text: str, choice: str | None) -> None:
        """A form as Twilio posts it, signed by twilio's own RequestValidator."""
        extra = {"ButtonPayload": choice} if choice else {}
        form = inbound_form(
            text, phone=who.account, account_sid=TWILIO_SID, to=TWILIO_FROM, **extra
        )
        headers = signature_headers(TWILIO_TOKEN, PUBLIC_URL + "/twilio/whatsapp", form)
        url = self.slack.url + "/twilio/whatsapp"
        async with self.slack.http.post(url, data=form, headers=headers) as response:
            assert response.status == 200

    def _button(self, user: str, payload: str) -> tuple[str, dict[str, Any]]:
        """The newest message in the user's DM with a button for `payload`, and the button."""
        dm = "D" + user[1:]
        for ref, message in reversed(self.slack.api.messages.items()):
            if ref.startswith(dm + ":") and message.get("blocks"):
                for button in block_elements(message):
                    if button.get("value") == payload:
                        return ref, button
        raise AssertionError(f"no button {payload} was posted to {user}")

    def _incoming(self, who: Colleague, text: str, choice: str | None) -> Incoming:
        n = next(_events)
        person = who.person
        event_id = {
            "web": f"{who.account}:{n:032x}",
            "console": f"console-{n}",
        }[who.channel]
        return Incoming(
            channel=who.channel,
            event_id=event_id,
            account=who.account,
            text=text,
            choice=choice,
            profile=Profile(email=person.email, phone=person.phone, name=person.name),
        )

    async def deliver(self) -> None:
        worker = DeliveryWorker(self.runtime.db, self.runtime.settings, self.runtime.adapters)
        # No platform's pacing: what is scanned is what was sent, not when (the per-chat
        # windows would make each test wait some 15 s for Slack's 3 messages per 3 s).
        worker.pacers = {channel: Pacer(UNLIMITED) for channel in worker.pacers}
        await worker.drain()


CHANNELS = {  # key: (channel, account)
    "slack0": ("slack", "USCAN0"),
    "slack1": ("slack", "USCAN1"),
    "wa": ("whatsapp", "+31612345601"),
    "teams": ("teams", "aad-teams"),  # TeamsChat("teams")'s account
    "web": ("web", "person-{id}"),
    "console": ("console", "{email}"),
}

# The Teams rig's fixtures: the fake OpenID keys and Bot Connector.
openid, connector = test_teams.openid, test_teams.connector


@pytest.fixture
async def scene(
    settings: Settings, db: Database, openid: OpenIdKeys, connector: FakeBotConnector
) -> AsyncIterator[Scene]:
    api = await FakeSlackApi().start()
    twilio = await FakeTwilio(TWILIO_SID, TWILIO_TOKEN).start()
    on = {
        "twilio_account_sid": TWILIO_SID,
        "twilio_auth_token": SecretStr(TWILIO_TOKEN),
        "twilio_whatsapp_from": TWILIO_FROM,
        "twilio_api_url": twilio.url,
        "public_url": PUBLIC_URL,
        "microsoft_app_id": APP_ID,
        "microsoft_app_password": SecretStr(APP_PASSWORD),
        "teams_openid_metadata_url": openid.metadata_url,
        "teams_login_url": connector.login_url,
    }
    runtime = build_runtime(slack_settings(settings, api, **on))
    server = TestServer(create_web_app(runtime, background=False), host="127.0.0.1")
    await server.start_server()
    try:
        with captured_logs("DEBUG", secret=settings.secret) as log:  # stricter than `serve`
            async with aiohttp.ClientSession() as http:
                slack = Slack(api, runtime, str(server.make_url("")).rstrip("/"), http)
                colleagues = await _roster(runtime.engine, api)
                (mate,) = [c for c in colleagues if c.channel == "teams"]
                teams = TeamsChat(slack.url + "/api/messages", http, openid, connector,
                                  "teams", mate.person)  # fmt: skip
                mate.identifiers |= teams.identifiers
                yield Scene(runtime, slack, colleagues, log, teams)
    finally:
        await server.close()
        await api.stop()
        await twilio.close()


async def _roster(engine: Engine, api: FakeSlackApi) -> list[Colleague]:
    colleagues = []
    async with engine.db.transaction() as session:
        for i, (key, (channel, account)) in enumerate(CHANNELS.items()):
            person = Person(
                name=f"Scan Persoon{key.capitalize()} Achternaam{i}",
                email=f"scan.{key}@voorbeeld.nl",
                phone=f"+3162000000{i}" if channel != "whatsapp" else account,
                department="Productie",
                location="Eindhoven",
                language="nl",
            )
            session.add(person)
            await session.flush()
            account = account.format(id=person.id, email=person.email)
            if channel == "slack":
                api.add_user(account, person.email, person.name)
            colleague = Colleague(key, channel, account, person)
            colleague.identifiers |= {person.name, person.email, account}
            if channel == "whatsapp":
                colleague.identifiers.add(person.phone)
            colleagues.append(colleague)
    return colleagues


async def anonymous_acts(scene: Scene) -> None:
    """Each colleague votes in an anonymous poll, answers an anonymous question, nominates
    someone in an anonymous campaign and answers an anonymous survey (a choice with "waarom?",
    a 0-10 scale, an open question), each on their own channel; one reports fully
    anonymously."""
    engine = scene.engine
    for who in scene.colleagues:  # a first message links each account to its person
        await scene.say(who, "hallo")
    await scene.deliver()
    poll_id, options = await create_poll(engine, OPTIONS, anonymous=True)
    await scene.deliver()
    for i, who in enumerate(scene.colleagues):
        option = options[(i * 2 + 1) % len(options)]
        who.secret_options.add(option)
        who.secrets.add(OPTIONS[options.index(option)])
        await scene.say(who, choice=vote_payload(poll_id, option))
    question_id = await _question(engine)
    for i, who in enumerate(scene.colleagues):
        answer = f"Geheim antwoord nummer {i} van de kantine-enquete"
        who.secrets.add(answer)
        await scene.say(who, f"antwoord {question_id}")
        await scene.say(who, answer)
    await _campaign(engine)
    others = scene.colleagues[1:] + scene.colleagues[:1]
    for who, nominee in zip(scene.colleagues, others, strict=True):
        who.secret_people.add(nominee.person.id)
        who.secrets.add(nominee.person.name)
        await scene.say(who, "nomineer")
        await scene.say(who, nominee.person.name)
        await scene.say(who, "Overslaan")  # the reason for this colleague
        await scene.say(who, "Nee, verder")
        await scene.say(who, "Bevestigen")
    await _answer_survey(scene)
    # The reporter on Teams: the reply with the code is read before the worker sends it.
    reporter = next(c for c in scene.colleagues if c.channel == "teams")
    description = "Geheime melding: lekkende olie bij pers zeven"
    reporter.secrets |= {description, "Hal negen achteraan"}
    for step in ("melding", "Geen foto", description, "Hal negen achteraan", "3", "Versturen"):
        await scene.say(reporter, step)
    reporter.secrets.add(await _secret_code(scene.engine, reporter))
    await scene.deliver()
    await Scheduler(engine).tick()


async def _answer_survey(scene: Scene) -> None:
    """Each colleague answers an anonymous survey on their channel: a button where the
    channel has one for the first question, typed words for the rest. The WhatsApp colleague
    pauses halfway and finishes in the web chat (one respondent across channels)."""
    async with scene.engine.db.transaction() as session:
        services = scene.engine.services(session)
        draft = SurveyDraft(
            title="Raadpleging kantine",
            questions=[
                QuestionDraft("single", "Is de kantine goed?", ("Ja", "Nee"), why=True),
                QuestionDraft("nps", "Raad je de kantine aan?"),
                QuestionDraft("open", "Wat moet er anders?"),
            ],
            closes_at=services.now + timedelta(days=3),
        )
        survey_id = (await create_survey(services, draft, actor_id=None)).survey.id
    await scene.deliver()
    for i, who in enumerate(scene.colleagues):
        why, answer = f"Geheime toelichting {i} over de soep", f"Geheim raadplegingsantwoord {i}"
        who.secrets |= {why, answer}
        # The invitation's button: it starts the survey whatever dialog the person is in.
        await scene.say(who, choice=f"svy:{survey_id}:start")
        await scene.deliver()
        if who.channel == "console":
            await scene.say(who, "nee")
        else:
            await scene.say(who, choice="svq:a:1:2")
        await scene.say(who, why)
        if who.channel == "whatsapp":
            await scene.say(who, "pauze")
            web = Colleague(who.key, "web", f"person-{who.person.id}", who.person)
            await scene.say(web, choice=f"svy:{survey_id}:start")
            who = web
        await scene.say(who, str(i))
        await scene.say(who, answer)
        await scene.say(who, "versturen")
    await scene.deliver()


async def _secret_code(engine: Engine, reporter: Colleague) -> str:
    """The code of the fully anonymous report, from the reply as the worker would send it."""
    async with engine.db.transaction(read_only=True) as session:
        rows = await session.execute(
            select(OutboxMessage.payload).where(OutboxMessage.person_id == reporter.person.id)
        )
        texts = [engine.sealer.open(p)["text"] for (p,) in rows if p is not None]
    [code] = [m.group(1) for t in texts if (m := re.search(r"code: (\S+)", t))]
    return code


async def _question(engine: Engine) -> int:
    async with engine.db.transaction() as session:
        services = engine.services(session)
        question = await Questions(session).create(
            text="Wat kan er beter in de kantine?",
            anonymous=True,
            audience=Audience(),
            closes_at=None,
            created_by=None,
            now=services.now,
        )
        await open_question(services, question, actor_id=None)
        return question.id


async def _campaign(engine: Engine) -> int:
    async with engine.db.transaction() as session:
        services = engine.services(session)
        created = await Nominations(session).create_campaign(
            title="OR-verkiezingen 2027",
            closes_at=services.now + timedelta(days=7),
            anonymous=True,
            max_per_person=None,
            created_by=None,
            now=services.now,
        )
        await announce(services, created, None)
        return created.id


# --- the scan ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    name: str
    rows: list[dict[str, Any]]
    people_columns: frozenset[str]  # columns that refer to people.id (or are its key)
    option_columns: frozenset[str]  # columns that refer to poll_options.id (or are its key)


async def every_table(db: Database) -> list[Table]:
    """Every table of the live database with all its rows, found by reflection."""

    def read(connection: Connection) -> list[Table]:
        inspector = inspect(connection)
        tables = []
        for name in inspector.get_table_names():
            if name == "alembic_version":
                continue
            refs: dict[str, set[str]] = {"people": set(), "poll_options": set()}
            for fk in inspector.get_foreign_keys(name):
                if fk["referred_table"] in refs:
                    refs[fk["referred_table"]] |= set(fk["constrained_columns"])
            if name in refs:
                refs[name].add("id")
            # PostgreSQL: also the id of the transaction that wrote each row (see the test).
            xmin = "xmin::text AS _xmin, " if connection.dialect.name == "postgresql" else ""
            query = text(f'SELECT {xmin}* FROM "{name}"')
            rows = [dict(r._mapping) for r in connection.execute(query)]
            tables.append(
                Table(name, rows, frozenset(refs["people"]), frozenset(refs["poll_options"]))
            )
        return tables

    async with db.engine.connect() as connection:
        return await connection.run_sync(read)


def _flat(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)


def identifies(table: Table, row: dict[str, Any], who: Colleague) -> bool:
    if any(row.get(c) == who.person.id for c in table.people_columns):
        return True
    cells = [_flat(v) for v in row.values() if v is not None]
    return any(marker in cell for marker in who.identifiers for cell in cells)


def reveals(table: Table, row: dict[str, Any], who: Colleague) -> bool:
    if any(row.get(c) in who.secret_options for c in table.option_columns):
        return True
    nominee_columns = table.people_columns - {"id"}
    if len(nominee_columns) > 1 and any(row.get(c) in who.secret_people for c in nominee_columns):
        return True
    cells = [_flat(v) for v in row.values() if v is not None]
    # A question lists every option: that reveals nothing; one option alone does.
    cells = [c for c in cells if not all(label in c for label in OPTIONS)]
    return any(secret in cell for secret in who.secrets for cell in cells)


def links(tables: Iterable[Table], colleagues: list[Colleague]) -> list[str]:
    found = []
    for table in tables:
        for row in table.rows:
            for who in colleagues:
                if identifies(table, row, who) and reveals(table, row, who):
                    found.append(f"{table.name}: {row} links {who.key}")
    return found


def traces(tables: Iterable[Table], who: Colleague) -> list[str]:
    """Cells that still name `who` (their row id alone no longer identifies anyone)."""
    found = []
    for table in tables:
        for row in table.rows:
            cells = [_flat(v) for v in row.values() if v is not None]
            if any(marker in cell for marker in who.identifiers for cell in cells):
                found.append(f"{table.name}: {row}")
    return found


# --- the tests --------------------------------------------------------------------------------


async def test_no_row_and_no_log_line_links_anyone_to_an_anonymous_act(
    scene: Scene, db: Database
) -> None:
    await anonymous_acts(scene)
    tables = await every_table(db)
    assert {"participations", "open_answers", "nominations", "reports", "survey_answers"} <= {
        t.name for t in tables
    }
    assert links(tables, scene.colleagues) == []
    # The acts did happen (a scan of an empty database would pass as well).
    by_name = {t.name: t for t in tables}
    assert sum(o["anonymous_count"] for o in by_name["poll_options"].rows) == len(CHANNELS)
    assert len(by_name["participations"].rows) == len(CHANNELS)
    assert len(by_name["open_answers"].rows) == len(CHANNELS)
    assert len(by_name["nominations"].rows) == len(CHANNELS)
    assert [r["privacy"] for r in by_name["reports"].rows] == ["anonymous"]
    assert [r["person_id"] for r in by_name["survey_responses"].rows] == [None] * len(CHANNELS)
    assert len(by_name["survey_answers"].rows) == 3 * len(CHANNELS)  # the "waarom?" in its row
    assert all(
        r["finished"] and r["progress"] is None for r in by_name["survey_participations"].rows
    )
    # A forged request that repeats a colleague's message, as an attacker might send it: it
    # is logged (refused), and the log must not take its content.
    forged = event_body(dm_event(scene.colleagues[0].account, OPTIONS[0]))
    status, _ = await scene.slack.post(forged, secret="not-the-signing-secret")
    assert status == 401
    # A careless log call with a colleague's account and text: the formatter must drop both.
    who = scene.colleagues[0]
    logging.getLogger("adapters.slack").warning(
        "refused", extra={"account": who.account, "text": next(iter(who.secrets))}
    )
    lines = scene.log.getvalue().splitlines()
    assert lines, "nothing was logged: the capture is broken"
    for line in lines:
        for who in scene.colleagues:
            assert not any(s in line for s in who.secrets), line
            assert not any(i in line for i in who.identifiers), line


async def test_anonymous_rows_share_no_transaction_with_their_author(
    scene: Scene, db: Database
) -> None:
    """PostgreSQL tells which transaction wrote a row (`xmin`). An anonymous answer written
    in the same transaction as its author's confirmation would name them; once the reseal job
    has run (the scheduler tick at the end of the acts), no row with an act shares its
    transaction with a row that names anyone."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps no transaction ids")
    await anonymous_acts(scene)
    tables = await every_table(db)
    for who in scene.colleagues:
        named, acts = set(), {}
        for table in tables:
            for row in table.rows:
                act = any(reveals(table, row, w) for w in scene.colleagues)
                if act and reveals(table, row, who) and not identifies(table, row, who):
                    acts[f"{table.name}:{row.get('id')}"] = row["_xmin"]
                elif not act and identifies(table, row, who):
                    named.add(row["_xmin"])
        assert len(acts) >= 3, who.key  # their answer, nomination and chosen option at least
        assert {k: x for k, x in acts.items() if x in named} == {}, who.key


async def test_anonymous_rows_carry_dates_not_times(scene: Scene, db: Database) -> None:
    """A time of day would let a reader match an anonymous row (one with the act and no
    person) to the outbox row that confirmed it; a random id keeps the order of arrival out
    of the key as well."""
    await anonymous_acts(scene)
    secrets = set().union(*(who.secrets for who in scene.colleagues))
    for table in await every_table(db):
        for row in table.rows:
            if any(identifies(table, row, who) for who in scene.colleagues):
                continue  # a person's own row: the link test is about those
            if not any(s in _flat(v) for v in row.values() if v is not None for s in secrets):
                continue
            for column, value in row.items():
                if isinstance(value, datetime) or TIME_OF_DAY.search(str(value)):
                    pytest.fail(f"{table.name}.{column} keeps a time next to an anonymous act")
    answers = next(t for t in await every_table(db) if t.name == "open_answers").rows
    ids = [a["id"] for a in answers]
    assert ids != sorted(ids) or max(ids) - min(ids) > len(ids) * 1000


async def test_forget_leaves_nothing_that_names_the_person(scene: Scene, db: Database) -> None:
    await anonymous_acts(scene)
    engine = scene.engine
    for who in scene.colleagues:
        assert traces(await every_table(db), who), f"{who.key} left no trace to begin with"
    for who in scene.colleagues:
        async with engine.db.transaction() as session:
            services = engine.services(session)
            person = await services.people.by_email(who.person.email or "")
            assert person is not None
            await services.people.forget(person, now=services.now)
    tables = await every_table(db)
    for who in scene.colleagues:
        assert traces(tables, who) == []
    by_name = {t.name: t for t in tables}
    assert sum(o["anonymous_count"] for o in by_name["poll_options"].rows) == len(CHANNELS)
