"""Property: no input gets a 5xx, and a refused request (4xx) stores nothing (issue 11).

Hypothesis drives every public route of the real server (all channels on: Slack, Teams,
WhatsApp, the web chat and the dashboard) with malformed, oversized, deeply nested, wrongly
encoded and non-ASCII-digit input: with and without valid signatures (slack_sdk's
SignatureVerifier, twilio's RequestValidator, real Bot Framework tokens) and with and without
sessions (an admin who is also OR member and moderator, and a web chat). The routes are read
from the server's router, so a new route is fuzzed without anyone remembering to.

After every request: the status is below 500 (the store is up), and when it is a 4xx no table
has gained or lost a row. Bounded: a fixed number of examples per test, no deadline (the
server runs on the test's event loop, and PostgreSQL is slower than SQLite).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import SecretStr
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import text
from twilio.request_validator import RequestValidator

from bot.app import Runtime, build_runtime
from bot.config import Settings
from bot.engine import Engine
from bot.server import create_web_app
from storage.schema import Base
from tests.adapters.conftest import ACCOUNT_SID, AUTH_TOKEN, SENDER
from tests.adapters.test_teams import APP_ID, member
from tests.e2e.support import form_csrf, join_chat, log_in, set_roles
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.openid_keys import OpenIdKeys
from tests.fakes.slack_api import SIGNING_SECRET, TOKEN, FakeSlackApi
from tests.fakes.twilio_api import FakeTwilio
from tests.support.org import Org

# More for a deeper run: ACHTERBAN_FUZZ_EXAMPLES=1000 pytest tests/hostile/test_fuzz_routes.py
EXAMPLES = int(os.environ.get("ACHTERBAN_FUZZ_EXAMPLES", "40"))
FUZZ = hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MAX_BODY = 1024 * 1024

# Strings that broke something somewhere, or could: digits of other scripts and superscripts
# (str.isdigit takes them), numbers beyond any column, NUL, a lone surrogate, markup, paths.
NASTY = [
    "", " ", "\x00", "a\x00b", "²", "¹", "١٢", "１２", "٣", "9" * 19, "9" * 40, "-1", "0", "1",
    "1e9", " 1", "1_0", "1.5", "é", "\ud800", "\udcff", "\ufeff", "poll:¹:vote:1",
    "poll:1:vote:²", "oq:١:answer", "rm:9999999999999999999999:publish", "%00", "%ff", "<b>x</b>",
    "' OR 1=1 --", "../../etc/passwd", "menu", "stop", "x" * 3000, "\u202e", "🙂" * 50,
]  # fmt: skip
nasty = st.one_of(st.sampled_from(NASTY), st.text(max_size=40))


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), nasty),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(nasty, st.just("type")), inner, max_size=4),
    ),
    max_leaves=12,
)


def encode(value: str) -> str:
    """Percent-encoded as a browser would, except that a lone surrogate becomes bytes that are
    no UTF-8 at all (wrongly encoded input)."""
    return quote(value, safe="", errors="surrogatepass")


def printable(value: str) -> bool:
    """What an HTTP client can send at all in a header: printable ASCII."""
    return all(" " <= ch <= "~" for ch in value)


def form_body(fields: dict[str, str]) -> bytes:
    return "&".join(f"{encode(k)}={encode(v)}" for k, v in fields.items()).encode("ascii")


def to_bytes(value: str) -> bytes:
    return value.encode("utf-8", errors="surrogatepass")


@st.composite
def bodies(draw: st.DrawFn, fields: st.SearchStrategy[dict[str, str]]) -> tuple[bytes, str | None]:
    """(body, content type): a form, JSON, deeply nested JSON, random bytes or too much."""
    kind = draw(st.sampled_from(["form", "json", "deep", "bytes", "huge", "multipart"]))
    if kind == "form":
        body = form_body(draw(fields))
        content_type = "application/x-www-form-urlencoded"
    elif kind == "json":
        body = to_bytes(json.dumps(draw(json_values), ensure_ascii=draw(st.booleans())))
        content_type = "application/json"
    elif kind == "deep":
        body = deep(draw(st.sampled_from([500, 1000, 5000, 100_000]))).encode()
        content_type = "application/json"
    elif kind == "bytes":
        body = draw(st.binary(max_size=300))
        content_type = draw(st.sampled_from([None, "text/plain", "application/json"]))
    elif kind == "huge":
        body = b"a=" + b"x" * MAX_BODY
        content_type = "application/x-www-form-urlencoded"
    else:
        body = b'--b\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n' + draw(
            st.binary(max_size=200)
        )
        content_type = draw(
            st.sampled_from(["multipart/form-data; boundary=b", "multipart/form-data"])
        )
    if draw(st.booleans()) and content_type is not None:
        content_type += draw(st.sampled_from(["; charset=latin-1", "; charset=nonsense"]))
    return body, content_type


# --- the server with everything on ------------------------------------------------------------


@dataclass
class Served:
    runtime: Runtime
    url: str
    admin: aiohttp.ClientSession  # logged in to the dashboard and the web chat
    stranger: aiohttp.ClientSession  # no cookies at all
    admin_csrf: str
    chat_csrf: str
    keys: OpenIdKeys
    connector: FakeBotConnector
    tables: list[str]
    routes: list[tuple[str, str]]
    public_url: str

    async def fingerprint(self) -> tuple[int, ...]:
        """How many rows every table has (one query)."""
        counts = ", ".join(f'(SELECT count(*) FROM "{name}")' for name in self.tables)
        async with self.runtime.db.transaction(read_only=True) as session:
            return tuple((await session.execute(text(f"SELECT {counts}"))).one())

    async def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        *,
        session: bool = False,
    ) -> int:
        """The status of one request; checks the properties on the way."""
        before = await self.fingerprint()
        client = self.admin if session else self.stranger
        async with client.request(
            method, self.url + path, data=body, headers=headers or {}, allow_redirects=False
        ) as response:
            await response.read()
            status = response.status
        assert status < 500, (method, path, status, body[:300] if body else body)
        if 400 <= status < 500:
            after = await self.fingerprint()
            changed = [t for t, a, b in zip(self.tables, before, after, strict=True) if a != b]
            assert not changed, (method, path, status, changed)
        return status


@pytest.fixture
async def served(
    settings: Settings,
    engine: Engine,
    org: Org,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Served]:
    keys: OpenIdKeys = request.getfixturevalue("openid")
    connector: FakeBotConnector = request.getfixturevalue("connector")
    slack_api = await FakeSlackApi().start()
    twilio = await FakeTwilio(ACCOUNT_SID, AUTH_TOKEN).start()
    everything = settings.model_copy(
        update={
            "microsoft_app_id": APP_ID,
            "microsoft_app_password": SecretStr("app-password-for-tests"),
            "teams_openid_metadata_url": keys.metadata_url,
            "teams_login_url": connector.login_url,
            "slack_bot_token": SecretStr(TOKEN),
            "slack_signing_secret": SecretStr(SIGNING_SECRET),
            "slack_api_url": slack_api.api_url,
            "twilio_account_sid": ACCOUNT_SID,
            "twilio_auth_token": SecretStr(AUTH_TOKEN),
            "twilio_whatsapp_from": SENDER,
            "twilio_api_url": twilio.url,
            "membership": "open",
        }
    )
    runtime = build_runtime(everything)
    assert {"slack", "teams", "whatsapp", "web"} <= runtime.mounts.keys()
    app = create_web_app(runtime, background=False)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")
    olga = org.people["olga"]
    await set_roles(engine, olga, {"or_member", "moderator", "admin"})
    jar = aiohttp.CookieJar(unsafe=True)
    try:
        async with (
            aiohttp.ClientSession(base_url=url, cookie_jar=jar) as admin,
            aiohttp.ClientSession() as stranger,
        ):
            admin_csrf = await log_in(admin, engine, olga)
            chat_csrf = await join_chat(admin, engine, olga)
            assert form_csrf(await (await admin.get("/chat")).text()) == chat_csrf
            tables = [t.name for t in Base.metadata.sorted_tables]
            yield Served(
                runtime,
                url,
                admin,
                stranger,
                admin_csrf,
                chat_csrf,
                keys,
                connector,
                tables,
                routes_of(app),
                everything.public_url.rstrip("/"),
            )
    finally:
        await server.close()
        await slack_api.stop()
        await twilio.close()


# --- the dashboard, the web chat, media and health: every route of the router ----------------


def routes_of(app: web.Application) -> list[tuple[str, str]]:
    """(method, path template) of every route the server answers, from its router."""
    found = set()
    for route in app.router.routes():
        if route.method in ("GET", "POST"):
            info = route.resource.get_info() if route.resource else {}
            template = info.get("formatter") or info.get("path") or info.get("prefix")
            if template:
                found.add((route.method, str(template)))
    return sorted(found)


# Ending one's own session is what these do: with a valid token they are left out, or the
# examples after them would all run without a session.
ENDS_THE_SESSION = {"/admin/logout", "/chat/leave"}
FIELD_NAMES = [
    "text", "choice", "after", "ref", "event", "q", "offset", "before", "status", "note",
    "index", "x", "y", "w", "h", "max", "title", "question", "options", "closes", "anonymous",
    "roles", "role", "audience", "message", "channel", "lang", "language", "exp", "sig",
]  # fmt: skip
fields = st.dictionaries(st.sampled_from(FIELD_NAMES) | nasty, nasty, max_size=6)


@given(data=st.data())
@FUZZ
async def test_web_routes(served: Served, data: st.DataObject) -> None:
    method, template = data.draw(st.sampled_from(served.routes), label="route")
    path = template
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        value = data.draw(st.one_of(st.integers(min_value=0, max_value=3).map(str), nasty))
        path = path[:start] + encode(value) + path[end + 1 :]
    if path.startswith("/static"):
        path = "/static/" + encode(data.draw(nasty))
    query = data.draw(fields, label="query")
    if query:
        path += "?" + form_body(query).decode()
    session = data.draw(st.booleans(), label="session")
    headers = {}
    if data.draw(st.booleans()):
        headers["X-Requested-With"] = "fetch"
    body = None
    if method == "POST":
        csrf = served.chat_csrf if template.startswith("/chat") else served.admin_csrf
        token = data.draw(st.sampled_from(["valid", "none", "nasty"]), label="csrf")
        if token == "valid" and template in ENDS_THE_SESSION:
            token = "none"
        form = data.draw(fields, label="form")
        if token != "none":
            form["csrf"] = csrf if token == "valid" else data.draw(nasty)
        body, content_type = data.draw(
            st.one_of(
                st.just((form_body(form), "application/x-www-form-urlencoded")), bodies(fields)
            )
        )
        if content_type:
            headers["Content-Type"] = content_type
    await served.request(method, path, body, headers, session=session)


# --- Slack -------------------------------------------------------------------------------------


slack_envelopes = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["event_callback", "block_actions", "url_verification"]) | nasty,
        "event_id": nasty,
        "event": st.fixed_dictionaries(
            {"type": st.sampled_from(["message", "app_mention", "reaction_added"]) | nasty},
            optional={
                "user": nasty | json_values, "text": nasty | json_values,
                "channel_type": st.just("im") | nasty, "files": json_values,
                "item": json_values, "reaction": nasty, "subtype": nasty,
            },
        ) | json_values,
        "actions": st.lists(
            st.fixed_dictionaries(
                {}, optional={"action_id": st.just("achterban:choice:0") | nasty,
                              "value": nasty, "action_ts": nasty, "selected_option": json_values}
            ) | json_values, max_size=2,
        ) | json_values,
        "user": st.fixed_dictionaries({"id": st.just("UEMP0") | nasty}) | json_values,
        "container": json_values, "state": json_values, "trigger_id": nasty,
        "challenge": nasty, "authorizations": json_values,
    },
)  # fmt: skip


@given(data=st.data())
@FUZZ
async def test_slack_events(served: Served, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["json", "payload", "command", "other"]), label="kind")
    if kind == "json":
        raw = to_bytes(
            json.dumps(data.draw(slack_envelopes), ensure_ascii=data.draw(st.booleans()))
        )
        content_type: str | None = "application/json"
    elif kind == "payload":
        envelope = data.draw(slack_envelopes | json_values)
        raw = form_body({"payload": json.dumps(envelope, ensure_ascii=False)})
        content_type = "application/x-www-form-urlencoded"
    elif kind == "command":
        command = {"command": "/or", "text": data.draw(nasty), "user_id": data.draw(nasty),
                   "trigger_id": data.draw(nasty)}  # fmt: skip
        raw = form_body(command)
        content_type = "application/x-www-form-urlencoded"
    else:
        raw, content_type = data.draw(bodies(fields))
    headers = {"Content-Type": content_type} if content_type else {}
    signed = data.draw(st.sampled_from(["sdk", "wrong secret", "none", "nasty"]), label="signed")
    stamp = str(int(time.time()))
    if data.draw(st.booleans(), label="nasty timestamp"):
        stamp = data.draw(nasty)
    if signed in ("sdk", "wrong secret"):
        secret = SIGNING_SECRET if signed == "sdk" else "not-the-secret"
        try:
            body_text = raw.decode("utf-8")
        except UnicodeDecodeError:
            body_text = None
        if body_text is not None and printable(stamp):
            signature = SignatureVerifier(secret).generate_signature(
                timestamp=stamp, body=body_text
            )
            headers |= {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature or ""}
    elif signed == "nasty":
        headers |= {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": data.draw(nasty)}
    headers = {k: v for k, v in headers.items() if printable(v)}
    await served.request("POST", "/slack/events", raw, headers)


# --- Teams -------------------------------------------------------------------------------------


@given(data=st.data())
@FUZZ
async def test_teams_activities(served: Served, data: st.DataObject) -> None:
    served.connector.members.setdefault("29:emp0", member("emp0"))
    activity: dict[str, Any] = {
        "type": "message", "id": str(time.time_ns()), "channelId": "msteams",
        "serviceUrl": served.connector.url, "text": "hallo", "locale": "nl-NL",
        "from": {"id": "29:emp0", "name": "Emp0", "aadObjectId": "aad-emp0"},
        "conversation": {"conversationType": "personal", "id": "a:personal-emp0"},
        "recipient": {"id": f"28:{APP_ID}"},
    }  # fmt: skip
    keys = [*sorted(activity), "value", "attachments", "channelData", "replyToId", "reactionsAdded"]
    for key in data.draw(st.lists(st.sampled_from(keys), max_size=4), label="fields"):
        activity[key] = data.draw(json_values | nasty, label=key)
    kind = data.draw(st.sampled_from(["activity", "body"]), label="kind")
    if kind == "activity":
        raw = to_bytes(json.dumps(activity, ensure_ascii=data.draw(st.booleans())))
        content_type: str | None = "application/json"
    else:
        raw, content_type = data.draw(bodies(fields))
    token = data.draw(st.sampled_from(["valid", "none", "garbage"]), label="token")
    headers = {"Content-Type": content_type} if content_type else {}
    if token == "valid":
        jwt = served.keys.token(audience=APP_ID, service_url=served.connector.url)
        headers["Authorization"] = f"Bearer {jwt}"
    elif token == "garbage":
        headers["Authorization"] = "Bearer " + encode(data.draw(nasty))
    await served.request("POST", "/api/messages", raw, headers)


# --- WhatsApp ----------------------------------------------------------------------------------


twilio_fields = st.fixed_dictionaries(
    {},
    optional={
        "MessageSid": st.just("SM" + "a" * 32) | nasty,
        "From": st.just("whatsapp:+31612345678") | nasty,
        "Body": nasty, "NumMedia": nasty, "MediaUrl0": nasty, "MediaContentType0": nasty,
        "ButtonPayload": nasty, "ProfileName": nasty, "MessageStatus": nasty,
        "ErrorCode": nasty, "SmsStatus": nasty,
    },
)  # fmt: skip


@given(data=st.data())
@FUZZ
async def test_twilio_webhooks(served: Served, data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(["/twilio/whatsapp", "/twilio/status"]), label="path")
    form = {k: v for k, v in data.draw(twilio_fields).items()}
    if data.draw(st.booleans(), label="form"):
        raw, content_type = form_body(form), "application/x-www-form-urlencoded"
    else:
        raw, content_type = data.draw(bodies(fields))
    headers = {"Content-Type": content_type} if content_type else {}
    signed = data.draw(st.sampled_from(["sdk", "none", "nasty"]), label="signed")
    if signed == "sdk":
        try:
            params = {k: v for k, v in form.items() if to_bytes(k) and to_bytes(v)}
            if any("\ud800" <= ch <= "\udfff" for v in params.values() for ch in v):
                raise UnicodeEncodeError("utf-8", "", 0, 1, "surrogate")
            signature = RequestValidator(AUTH_TOKEN).compute_signature(
                served.public_url + path, params
            )
            headers["X-Twilio-Signature"] = signature
        except UnicodeEncodeError:
            headers["X-Twilio-Signature"] = "not-signable"
    elif signed == "nasty":
        headers["X-Twilio-Signature"] = encode(data.draw(nasty)) or "x"
    await served.request("POST", path, raw, headers)
