"""Media downloads: a platform's token goes to the platform's own origin only (scheme, host
and port), at every redirect hop. With an API URL override on loopback, comparing host names
alone sent the token to any port of that host."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from adapters.media import MediaRefused, fetch_capped, host_allowed, origin
from adapters.slack import SlackAdapter
from adapters.whatsapp import WhatsAppAdapter
from bot.config import Settings
from bot.messages import MediaRef
from tests.fakes.slack_api import FakeSlackApi, slack_settings
from tests.fakes.twilio_api import FakeTwilio

SECRET = "Bearer platform-token"


@dataclass
class Loopback:
    """A server on 127.0.0.1 that notes every Authorization header it is sent; /redirect
    sends the client to `target`, anything else answers a small file."""

    target: str = ""
    seen: list[str | None] = field(default_factory=list)
    server: TestServer | None = None

    async def start(self) -> Loopback:
        app = web.Application()
        app.router.add_get("/{path:.*}", self._any)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}"

    async def _any(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(request.headers.get("Authorization"))
        if request.path == "/redirect":
            raise web.HTTPFound(self.target)
        return web.Response(body=b"\xff\xd8file", content_type="image/jpeg")


@pytest.fixture
async def servers() -> AsyncIterator[tuple[Loopback, Loopback]]:
    platform, elsewhere = await Loopback().start(), await Loopback().start()
    platform.target = elsewhere.url + "/steal"
    yield platform, elsewhere
    for each in (platform, elsewhere):
        assert each.server is not None
        await each.server.close()


@pytest.mark.parametrize(
    ("url", "allowed", "expected"),
    [
        ("https://files.slack.com/x", ("files.slack.com",), True),
        ("https://a.files.slack.com/x", ("files.slack.com",), True),
        ("https://files.slack.com:443/x", ("files.slack.com",), True),
        ("https://files.slack.com:8443/x", ("files.slack.com",), False),  # another port
        ("http://files.slack.com/x", ("files.slack.com",), False),  # not https
        ("https://evilfiles.slack.com.evil.example/x", ("files.slack.com",), False),
        ("https://files.slack.com./x", ("",), False),  # an empty entry allows nothing
        ("http://127.0.0.1:8001/x", ("http://127.0.0.1:8001",), True),
        ("http://127.0.0.1:8002/x", ("http://127.0.0.1:8001",), False),
        ("http://127.0.0.1:8001/x", ("127.0.0.1",), False),  # a bare name: https:443 only
        ("https://127.0.0.1:8001/x", ("http://127.0.0.1:8001",), False),  # another scheme
        ("http://gateway.example:8001/x", ("http://gateway.example:8001",), False),  # http
        ("https://gateway.example:8443/x", ("https://gateway.example:8443",), True),
        ("https://evil.example\\@files.slack.com/x", ("files.slack.com",), False),
        ("https://files.slack.com:99999/x", ("files.slack.com",), False),
        ("ftp://files.slack.com/x", ("files.slack.com",), False),
    ],
)
def test_origins_are_compared_by_scheme_host_and_port(
    url: str, allowed: tuple[str, ...], expected: bool
) -> None:
    assert host_allowed(url, allowed) is expected


def test_an_origin_names_its_port() -> None:
    assert origin("http://127.0.0.1:8001/api/") == "http://127.0.0.1:8001"
    assert origin("https://api.twilio.com") == "https://api.twilio.com:443"
    assert origin("http://[::1]:9/x") == "http://[::1]:9"
    assert origin("not a url") == "" and origin("http://h:x/") == ""


async def test_a_redirect_to_another_port_is_not_followed(
    servers: tuple[Loopback, Loopback],
) -> None:
    platform, elsewhere = servers
    async with aiohttp.ClientSession() as session:
        with pytest.raises(MediaRefused, match="not allowed"):
            await fetch_capped(
                session,
                platform.url + "/redirect",
                allowed_hosts=(origin(platform.url),),
                max_bytes=1000,
                credentials={"Authorization": SECRET},
                credential_hosts=(origin(platform.url),),
            )
        assert platform.seen == [SECRET] and elsewhere.seen == []
        # Allowed as a file host, the other port gets the download, never the token.
        body, _type = await fetch_capped(
            session,
            platform.url + "/redirect",
            allowed_hosts=(origin(platform.url), origin(elsewhere.url)),
            max_bytes=1000,
            credentials={"Authorization": SECRET},
            credential_hosts=(origin(platform.url),),
        )
    assert body == b"\xff\xd8file" and elsewhere.seen == [None]


async def test_slack_with_an_api_override_keeps_its_token_on_that_port(
    settings: Settings, servers: tuple[Loopback, Loopback]
) -> None:
    _platform, elsewhere = servers
    api = await FakeSlackApi().start()
    adapter = SlackAdapter(slack_settings(settings, api))
    try:
        moved = api.add_redirect("moved.png", elsewhere.url + "/photo.png")
        with pytest.raises(MediaRefused, match="not allowed"):
            await adapter.fetch_media(MediaRef(moved))
        with pytest.raises(MediaRefused, match="not allowed"):
            await adapter.fetch_media(MediaRef(elsewhere.url + "/files-pri/T1-F1/x.png"))
        assert elsewhere.seen == []
        # The override's own origin still gets the token (and the file).
        url = api.add_file("ok.png", b"\x89PNG ok")
        assert await adapter.fetch_media(MediaRef(url)) == b"\x89PNG ok"
        assert api.calls_to("file")[-1].authorized
    finally:
        await adapter.close()
        await api.stop()


async def test_twilio_credentials_stay_on_the_api_port(
    settings: Settings, servers: tuple[Loopback, Loopback]
) -> None:
    _platform, elsewhere = servers
    twilio = await FakeTwilio("AC" + "0" * 32, "twilio-token").start()
    adapter = WhatsAppAdapter(
        settings.model_copy(
            update={
                "twilio_account_sid": twilio.account_sid,
                "twilio_auth_token": SecretStr(twilio.auth_token),
                "twilio_whatsapp_from": "whatsapp:+14155238886",
                "twilio_api_url": twilio.url,
            }
        ),
        cdn_hosts=(twilio.cdn_url,),
    )
    try:
        stolen = twilio.add_media(b"x", redirect_to=elsewhere.url + "/steal")
        with pytest.raises(MediaRefused, match="not allowed"):
            await adapter.fetch_media(MediaRef(stolen))
        assert elsewhere.seen == []
        assert await adapter.fetch_media(MediaRef(twilio.add_media(b"\xff\xd8ok"))) == b"\xff\xd8ok"
        assert twilio.media_auth[-1] is not None and twilio.cdn_auth == [None]
    finally:
        await adapter.close()
        await twilio.close()
