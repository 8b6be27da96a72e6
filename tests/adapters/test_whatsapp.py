"""WhatsApp through Twilio, end to end: our real server on loopback, requests signed by twilio's
RequestValidator, replies delivered by the delivery worker to a fake Twilio API (a real
aiohttp server speaking Twilio's wire format, tests/fakes/twilio_api.py)."""

from __future__ import annotations

import json
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select, update
from twilio.request_validator import RequestValidator

from adapters.media import MediaRefused
from adapters.whatsapp import (
    WhatsAppAdapter,
    parse_incoming,
    retry_after_seconds,
    split_body,
    summary_of,
)
from bot.app import Runtime, build_runtime
from bot.config import Settings
from bot.delivery import DeliveryWorker
from bot.engine import Engine
from bot.i18n import t
from bot.messages import Choice, DeliveryError, MediaRef, Outgoing, Recipient
from bot.privacy import dedupe_key
from bot.server import create_web_app
from storage.models import Ballot, ChannelAccount, InboundEvent, OutboxMessage, Person, utcnow
from storage.people import People
from tests.adapters.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_URL, SENDER
from tests.fakes.twilio_api import FakeTwilio, inbound_form, signature_headers
from tests.fakes.twilio_api import status_form as twilio_status_form
from tests.support.databases import count
from tests.support.org import Org
from tests.support.polls import create_poll

PHONE = "+31612345678"


def sid(prefix: str = "SM") -> str:
    return prefix + secrets.token_hex(16)


@dataclass
class Bot:
    """Our server as Twilio sees it, and the delivery worker."""

    runtime: Runtime
    server: TestServer
    http: aiohttp.ClientSession

    async def post(
        self,
        path: str,
        params: dict[str, str],
        *,
        signed_url: str | None = None,
        token: str = AUTH_TOKEN,
        signature: str | None = None,
    ) -> aiohttp.ClientResponse:
        """POST a form as Twilio does, signed for `signed_url` (default: the public URL)."""
        headers = signature_headers(token, signed_url or PUBLIC_URL + path, params)
        if signature is not None:
            headers = {"X-Twilio-Signature": signature} if signature else {}
        async with self.http.post(self.server.make_url(path), data=params, headers=headers) as r:
            await r.read()
            return r

    async def message(
        self, body: str, *, phone: str = PHONE, message_sid: str | None = None, **extra: str
    ) -> aiohttp.ClientResponse:
        return await self.post("/twilio/whatsapp", webhook(body, phone, message_sid, **extra))

    async def deliver(self, *, later: timedelta = timedelta(0), once: bool = False) -> int:
        """Send what is due (`later` from now); `once`: one round, so no retry follows."""
        worker = DeliveryWorker(
            self.runtime.db,
            self.runtime.settings,
            self.runtime.adapters,
            clock=lambda: utcnow() + later,
        )
        return await (worker.run_once() if once else worker.drain())


def webhook(body: str, phone: str, message_sid: str | None = None, **extra: str) -> dict[str, str]:
    return inbound_form(
        body, phone=phone, account_sid=ACCOUNT_SID, to=SENDER, message_sid=message_sid, **extra
    )


def status_form(message_sid: str, status: str, **extra: str) -> dict[str, str]:
    return twilio_status_form(
        message_sid, status, account_sid=ACCOUNT_SID, to="whatsapp:" + PHONE, sender=SENDER, **extra
    )


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Bot]:
    """Our server with WhatsApp on, and a client to post to it as Twilio does."""
    runtime = build_runtime(settings)
    assert runtime.channel_notes["whatsapp"] == "on"
    server = TestServer(create_web_app(runtime, background=False), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            yield Bot(runtime, server, http)
    finally:
        await server.close()


@pytest.fixture
async def bot(wa_settings: Settings) -> AsyncIterator[Bot]:
    async with serving(wa_settings) as running:
        yield running


async def give_phone(engine: Engine, person: Person, phone: str = PHONE) -> None:
    async with engine.db.transaction() as session:
        found = await People(session).get(person.id)
        assert found is not None
        found.phone = phone


async def outbox_rows(engine: Engine) -> list[OutboxMessage]:
    async with engine.db.transaction(read_only=True) as session:
        stmt = select(OutboxMessage).where(OutboxMessage.channel == "whatsapp")
        return list((await session.execute(stmt.order_by(OutboxMessage.id))).scalars())


async def age_window(engine: Engine, hours: float) -> None:
    """Pretend the person last wrote `hours` ago."""
    async with engine.db.transaction() as session:
        await session.execute(
            update(ChannelAccount)
            .where(ChannelAccount.channel == "whatsapp")
            .values(last_inbound_at=utcnow() - timedelta(hours=hours))
        )


async def test_greeting_poll_typed_number_vote_and_confirmation(
    bot: Bot, twilio: FakeTwilio, engine: Engine, org: Org
) -> None:
    await give_phone(engine, org.people["emp0"])
    resp = await bot.message("hallo")
    assert resp.status == 200
    assert resp.content_type == "text/xml"
    assert await bot.deliver() == 1
    greeting = twilio.sent[-1]
    assert greeting["To"] == "whatsapp:" + PHONE
    assert greeting["From"] == SENDER
    assert greeting["StatusCallback"] == PUBLIC_URL + "/twilio/status"
    assert greeting["Body"].startswith(t("nl", "menu.greeting", name="Emp0"))
    assert "\n1. " in greeting["Body"]

    poll_id, option_ids = await create_poll(engine, ["Ja", "Nee", "Weet niet"])
    assert await bot.deliver() == 1  # the others have no WhatsApp account
    poll_body = twilio.sent[-1]["Body"]
    assert "1. Ja\n2. Nee\n3. Weet niet" in poll_body

    answer_sid = sid()
    assert (await bot.message("2", message_sid=answer_sid)).status == 200
    assert await bot.deliver() == 1
    ballots = await count(engine.db, Ballot, Ballot.poll_id == poll_id)
    assert ballots == 1
    assert await count(engine.db, Ballot, Ballot.option_id == option_ids[1]) == 1
    confirmation = twilio.sent[-1]["Body"]
    assert confirmation.startswith(t("nl", "poll.voted", id=poll_id, choice="Nee"))

    # Twilio retries the same MessageSid: acknowledged, not handled again.
    sent_before = len(await outbox_rows(engine))
    assert (await bot.message("2", message_sid=answer_sid)).status == 200
    assert len(await outbox_rows(engine)) == sent_before
    assert await count(engine.db, Ballot, Ballot.poll_id == poll_id) == 1
    key = dedupe_key(engine.settings.secret, "whatsapp", answer_sid)
    assert await count(engine.db, InboundEvent, InboundEvent.event_key == key) == 1


async def test_quick_reply_button_payload_is_the_choice(
    bot: Bot, twilio: FakeTwilio, engine: Engine, org: Org
) -> None:
    await give_phone(engine, org.people["emp0"])
    await bot.message("hallo")
    poll_id, option_ids = await create_poll(engine, ["Ja", "Nee"])
    payload = f"poll:{poll_id}:vote:{option_ids[0]}"
    resp = await bot.message("Ja", ButtonPayload=payload, ButtonText="Ja", MessageType="button")
    assert resp.status == 200
    assert await count(engine.db, Ballot, Ballot.option_id == option_ids[0]) == 1


async def test_stop_is_plain_text_for_the_engine(
    bot: Bot, twilio: FakeTwilio, engine: Engine, org: Org
) -> None:
    await give_phone(engine, org.people["emp0"])
    await bot.message("stop")
    await bot.deliver()
    # With no dialog running, STOP ends nothing and unsubscribes nobody; it offers the
    # opt-out from news as one button (issue 13).
    assert twilio.sent[-1]["Body"].startswith(t("nl", "intent.stop_nothing"))


async def test_status_callbacks_only_move_forward(
    bot: Bot, twilio: FakeTwilio, engine: Engine, org: Org
) -> None:
    await give_phone(engine, org.people["emp0"])
    await bot.message("hallo")
    await bot.deliver()
    (row,) = await outbox_rows(engine)
    assert row.platform_message_id == twilio.sent_sids[-1]
    for status in ("sent", "delivered", "read", "delivered", "sent"):
        resp = await bot.post("/twilio/status", status_form(row.platform_message_id, status))
        assert resp.status == 200
    (row,) = await outbox_rows(engine)
    assert row.delivery_status == "read"
    assert row.delivery_updated_at is not None

    # Unknown message: acknowledged and ignored. Forged: refused, nothing recorded.
    assert (await bot.post("/twilio/status", status_form(sid(), "delivered"))).status == 200
    forged = await bot.post(
        "/twilio/status", status_form(row.platform_message_id, "failed"), token="wrong"
    )
    assert forged.status == 403
    (row,) = await outbox_rows(engine)
    assert row.delivery_status == "read"


async def test_status_callback_failure_records_the_error_code(
    bot: Bot, twilio: FakeTwilio, engine: Engine, org: Org
) -> None:
    await give_phone(engine, org.people["emp0"])
    await bot.message("hallo")
    await bot.deliver()
    (row,) = await outbox_rows(engine)
    assert row.platform_message_id is not None
    await bot.post("/twilio/status", status_form(row.platform_message_id, "sent"))
    form = status_form(row.platform_message_id, "undelivered", ErrorCode="63024")
    assert (await bot.post("/twilio/status", form)).status == 200
    (row,) = await outbox_rows(engine)
    assert row.delivery_status == "undelivered"
    assert row.last_error is not None and "63024" in row.last_error


async def test_forged_or_missing_signature_is_refused_and_nothing_stored(
    bot: Bot, engine: Engine, org: Org
) -> None:
    await give_phone(engine, org.people["emp0"])
    form = webhook("hallo", PHONE)
    assert (await bot.post("/twilio/whatsapp", form, token="not-the-token")).status == 403
    assert (await bot.post("/twilio/whatsapp", form, signature="")).status == 403
    assert (await bot.post("/twilio/whatsapp", form, signature="AAAA" * 7)).status == 403
    # A valid signature over other parameters does not cover a changed body.
    tampered_sig = RequestValidator(AUTH_TOKEN).compute_signature(
        PUBLIC_URL + "/twilio/whatsapp", form
    )
    tampered = {**form, "Body": "2"}
    assert (await bot.post("/twilio/whatsapp", tampered, signature=tampered_sig)).status == 403
    assert await count(engine.db, InboundEvent) == 0
    assert await count(engine.db, ChannelAccount, ChannelAccount.channel == "whatsapp") == 0
    assert await outbox_rows(engine) == []


async def test_signature_for_another_url_is_refused(bot: Bot, engine: Engine, org: Org) -> None:
    """Twilio signs the exact public URL; the Host our server sees must not matter."""
    await give_phone(engine, org.people["emp0"])
    form = webhook("hallo", PHONE)
    for url in (
        PUBLIC_URL.replace("https://", "http://") + "/twilio/whatsapp",
        "https://other.example.org/twilio/whatsapp",
        str(bot.server.make_url("/twilio/whatsapp")),  # what the Host header says
        PUBLIC_URL + "/twilio/whatsapp/",
    ):
        assert (await bot.post("/twilio/whatsapp", form, signed_url=url)).status == 403, url
    assert await count(engine.db, InboundEvent) == 0
    # The same form signed for the public URL is accepted.
    assert (await bot.post("/twilio/whatsapp", form)).status == 200
    assert await count(engine.db, InboundEvent) == 1


async def test_malformed_and_oversized_bodies(bot: Bot, engine: Engine) -> None:
    without_sender = {k: v for k, v in webhook("hallo", PHONE).items() if k != "From"}
    assert (await bot.post("/twilio/whatsapp", without_sender)).status == 400
    not_a_phone = webhook("hallo", PHONE, From="whatsapp:0612345678")
    assert (await bot.post("/twilio/whatsapp", not_a_phone)).status == 400
    bad_media = webhook("hallo", PHONE, NumMedia="lots")
    assert (await bot.post("/twilio/whatsapp", bad_media)).status == 400
    no_status = {k: v for k, v in status_form(sid(), "sent").items() if "Status" not in k}
    assert (await bot.post("/twilio/status", no_status)).status == 400

    sig = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_URL + "/twilio/whatsapp", {})
    url = bot.server.make_url("/twilio/whatsapp")
    headers = {"X-Twilio-Signature": sig}
    async with bot.http.post(url, json={"Body": "hallo"}, headers=headers) as resp:
        assert resp.status == 400
    huge = urlencode(webhook("x" * (1024 * 1024 + 10), PHONE))
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    async with bot.http.post(url, data=huge, headers=headers) as resp:
        assert resp.status == 413
    assert await count(engine.db, InboundEvent) == 0


async def test_sms_to_the_webhook_is_acknowledged_and_ignored(bot: Bot, engine: Engine) -> None:
    resp = await bot.post("/twilio/whatsapp", webhook("hallo", PHONE, From=PHONE))
    assert resp.status == 200
    assert await count(engine.db, InboundEvent) == 0


async def test_unknown_sender_gets_one_polite_answer_and_is_not_stored(
    bot: Bot, twilio: FakeTwilio, engine: Engine, org: Org
) -> None:
    stranger = "+31687654321"
    message_sid = sid()
    for _ in range(2):  # the second is Twilio's retry
        resp = await bot.message("hallo", phone=stranger, message_sid=message_sid)
        assert resp.status == 200
    rows = await outbox_rows(engine)
    assert [(r.account, r.person_id) for r in rows] == [(stranger, None)]
    assert rows[0].payload is not None
    assert rows[0].payload["text"] == t("nl", "identity.not_on_roster")
    assert await count(engine.db, Person, Person.phone == stranger) == 0
    assert await count(engine.db, ChannelAccount, ChannelAccount.channel == "whatsapp") == 0
    await bot.deliver()
    assert twilio.sent[-1]["Body"] == t("nl", "identity.not_on_roster")
    assert twilio.sent[-1]["To"] == "whatsapp:" + stranger


async def test_outside_the_window_without_template_fails_with_the_reason(
    bot: Bot, twilio: FakeTwilio, engine: Engine, org: Org
) -> None:
    await give_phone(engine, org.people["emp0"])
    await bot.message("hallo")
    await bot.deliver()
    await age_window(engine, hours=25)
    await create_poll(engine, ["Ja", "Nee"])
    await bot.deliver()
    rows = await outbox_rows(engine)
    assert rows[-1].status == "failed"
    assert rows[-1].last_error == (
        "outside the WhatsApp 24-hour window and no template configured "
        "(ACHTERBAN_WHATSAPP_TEMPLATE_SID)"
    )
    assert len(twilio.sent) == 1  # only the greeting


async def test_outside_the_window_sends_the_approved_template(
    wa_settings: Settings, twilio: FakeTwilio, engine: Engine, org: Org
) -> None:
    template = sid("HX")
    settings = wa_settings.model_copy(update={"whatsapp_template_sid": template})
    runtime = build_runtime(settings)
    try:
        await give_phone(engine, org.people["emp0"])
        await engine.handle(parse_incoming(webhook("hallo", PHONE)))  # type: ignore[arg-type]
        worker = DeliveryWorker(runtime.db, settings, runtime.adapters)
        assert await worker.drain() == 1  # within the window: the text itself
        await age_window(engine, hours=30)
        poll_id, _ = await create_poll(engine, ["Ja", "Nee"])
        assert await worker.drain() == 1
        greeting, notice = twilio.sent
        assert "ContentSid" not in greeting
        assert notice["ContentSid"] == template
        assert "Body" not in notice
        variables = json.loads(notice["ContentVariables"])
        assert variables == {"1": t("nl", "poll.header", id=poll_id)}
        assert notice["To"] == "whatsapp:" + PHONE
        held = (await outbox_rows(engine))[-1]
        assert held.status == "held" and held.payload is not None
        # The person answers the notice: the poll itself follows, within the window now.
        await engine.handle(parse_incoming(webhook("ok", PHONE)))  # type: ignore[arg-type]
        assert await worker.drain() == 2
        poll_text = twilio.sent[2]["Body"]
        assert "1. Ja" in poll_text and "2. Nee" in poll_text
    finally:
        await runtime.close()


async def test_rate_limit_is_retried_after_retry_after(
    bot: Bot, twilio: FakeTwilio, engine: Engine, org: Org
) -> None:
    await give_phone(engine, org.people["emp0"])
    twilio.fail_next(429, retry_after="30")
    await bot.message("hallo")
    assert await bot.deliver() == 1
    (row,) = await outbox_rows(engine)
    assert row.status == "pending" and row.last_error and "429" in row.last_error
    wait = row.next_attempt_at - utcnow()
    assert timedelta(seconds=25) < wait <= timedelta(seconds=30)
    assert await bot.deliver(later=timedelta(seconds=20)) == 0
    assert twilio.sent == []
    assert await bot.deliver(later=timedelta(seconds=31)) == 1
    (row,) = await outbox_rows(engine)
    assert row.status == "sent" and len(twilio.sent) == 1 and twilio.attempts == 2


async def test_server_errors_are_retried_and_refusals_are_permanent(
    bot: Bot, twilio: FakeTwilio, engine: Engine, org: Org
) -> None:
    await give_phone(engine, org.people["emp0"])
    twilio.fail_next(503)
    await bot.message("hallo")
    await bot.deliver(once=True)
    (row,) = await outbox_rows(engine)
    assert row.status == "pending" and row.last_error and "503" in row.last_error
    await bot.deliver(later=timedelta(minutes=5))
    (row,) = await outbox_rows(engine)
    assert row.status == "sent"

    for code in (63016, 21211, 21610):
        twilio.fail_next(400, code=code)
        await bot.message("hallo")
        await bot.deliver()
        row = (await outbox_rows(engine))[-1]
        assert row.status == "failed", code
        assert row.last_error is not None and str(code) in row.last_error
        assert "whatsapp:" not in row.last_error  # no number (nor body) in the reason


async def test_timeouts_and_unreachable_api_are_transient(
    wa_settings: Settings, twilio: FakeTwilio
) -> None:
    recipient = Recipient(PHONE, last_inbound_at=utcnow())
    adapter = WhatsAppAdapter(wa_settings, timeout=0.3)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    unreachable = WhatsAppAdapter(
        wa_settings.model_copy(update={"twilio_api_url": f"http://127.0.0.1:{port}"})
    )
    try:
        twilio.fail_next(0)
        with pytest.raises(DeliveryError) as hung:
            await adapter.send(recipient, adapter.render(Outgoing("hallo")))
        assert not hung.value.permanent and "unreachable" in hung.value.reason
        with pytest.raises(DeliveryError) as refused:
            await unreachable.send(recipient, unreachable.render(Outgoing("hallo")))
        assert not refused.value.permanent
        # The same adapter works once the API answers again.
        result = await adapter.send(recipient, adapter.render(Outgoing("hallo")))
        assert result.platform_message_id == twilio.sent_sids[-1]
    finally:
        await adapter.close()
        await unreachable.close()


async def test_long_texts_go_in_parts_and_the_last_sid_is_kept(
    wa_settings: Settings, twilio: FakeTwilio
) -> None:
    adapter = WhatsAppAdapter(wa_settings)
    try:
        text = "\n".join(f"regel {i}: " + "x" * 90 for i in range(30))  # ~3000 characters
        outgoing = Outgoing(text, choices=(Choice("Ja", "p:1"), Choice("Nee", "p:2")))
        result = await adapter.send(
            Recipient(PHONE, last_inbound_at=utcnow()), adapter.render(outgoing)
        )
        bodies = [m["Body"] for m in twilio.sent]
        assert len(bodies) == 2 and all(len(b) <= 1600 for b in bodies)
        assert "\n".join(bodies) == text + "\n\n1. Ja\n2. Nee"
        assert result.platform_message_id == twilio.sent_sids[-1]
    finally:
        await adapter.close()


async def test_inbound_media_reaches_the_engine(
    bot: Bot, twilio: FakeTwilio, engine: Engine, org: Org
) -> None:
    await give_phone(engine, org.people["emp0"])
    await bot.message("")  # no text and no photo: the menu
    await bot.deliver()
    menu = twilio.sent[-1]["Body"]
    assert menu.startswith(t("nl", "menu.greeting", name="Emp0"))
    url = twilio.add_media(b"\xff\xd8jpeg")
    resp = await bot.message("", NumMedia="1", MediaUrl0=url, MediaContentType0="image/jpeg")
    assert resp.status == 200
    await bot.deliver()
    # A photo with no dialog running starts a report. This runtime's adapter does not trust
    # the test CDN host, so the download is refused and the person is asked again.
    assert len(twilio.sent) == 3 and twilio.sent[-1]["Body"] != menu
    assert "Stuur 1 tot 5 foto's" in twilio.sent[-1]["Body"]


async def test_media_follows_the_redirect_without_credentials(
    wa_settings: Settings, twilio: FakeTwilio
) -> None:
    # The fake CDN is "localhost" (the API is 127.0.0.1); it must be allowed explicitly.
    adapter = WhatsAppAdapter(wa_settings, cdn_hosts=(twilio.cdn_url,))
    try:
        url = twilio.add_media(b"\xff\xd8photo-bytes", "image/jpeg")
        assert await adapter.fetch_media(MediaRef(url, "image/jpeg")) == b"\xff\xd8photo-bytes"
        assert twilio.media_auth[-1] is not None and twilio.media_auth[-1].startswith("Basic ")
        assert twilio.cdn_auth == [None]
    finally:
        await adapter.close()


async def test_media_from_other_hosts_or_too_big_is_refused(
    wa_settings: Settings, twilio: FakeTwilio
) -> None:
    production_cdn_only = WhatsAppAdapter(wa_settings)
    small = WhatsAppAdapter(
        wa_settings.model_copy(update={"media_max_bytes": 100}), cdn_hosts=(twilio.cdn_url,)
    )
    try:
        url = twilio.add_media(b"x" * 50)
        with pytest.raises(MediaRefused, match="not allowed"):
            await production_cdn_only.fetch_media(MediaRef(url))  # redirect to localhost
        with pytest.raises(MediaRefused, match="not allowed"):
            await small.fetch_media(MediaRef("https://evil.example.org/media/1"))
        elsewhere = twilio.add_media(b"x", redirect_to="http://127.0.0.2:9/steal")
        with pytest.raises(MediaRefused, match="not allowed"):
            await small.fetch_media(MediaRef(elsewhere))
        with pytest.raises(MediaRefused, match="larger than 100"):
            await small.fetch_media(MediaRef(twilio.add_media(b"x" * 101)))
        assert twilio.cdn_auth == [None]  # only the too-big file reached the CDN
    finally:
        await production_cdn_only.close()
        await small.close()


def test_parse_incoming_reads_the_twilio_form() -> None:
    form = webhook(
        "Ja",
        PHONE,
        message_sid="SMabc",
        ButtonPayload="poll:1:vote:2",
        NumMedia="2",
        MediaUrl0="https://api.twilio.com/a",
        MediaContentType0="image/jpeg",
        MediaUrl1="https://api.twilio.com/b",
        MediaContentType1="image/png",
    )
    incoming = parse_incoming(form)
    assert incoming is not None
    assert (incoming.channel, incoming.event_id, incoming.account) == ("whatsapp", "SMabc", PHONE)
    assert (incoming.text, incoming.choice) == ("Ja", "poll:1:vote:2")
    assert [(m.url, m.content_type) for m in incoming.attachments] == [
        ("https://api.twilio.com/a", "image/jpeg"),
        ("https://api.twilio.com/b", "image/png"),
    ]
    assert incoming.profile is not None
    assert (incoming.profile.phone, incoming.profile.name) == (PHONE, "Emp Nul")


def test_rendering_helpers() -> None:
    parts = split_body("\n".join(["a" * 900, "b" * 900, "c" * 2000]), limit=1600)
    assert [len(p) for p in parts] == [900, 900, 1600, 400]
    assert "".join(parts).replace("\n", "") == "a" * 900 + "b" * 900 + "c" * 2000
    assert split_body("") == [""]
    assert summary_of("\n  Peiling   12\tvan de OR \nVraag") == "Peiling 12 van de OR"
    assert len(summary_of("x" * 500)) == 100
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("soon") is None
    later = retry_after_seconds("Wed, 21 Oct 2099 07:28:00 GMT")
    assert later is not None and later > 0


async def test_images_go_as_signed_media_urls_on_the_last_part(
    wa_settings: Settings, twilio: FakeTwilio
) -> None:
    adapter = WhatsAppAdapter(wa_settings)
    try:
        outgoing = Outgoing("Foto van de melding", images=("p-" + "a" * 64,))
        rendered = adapter.render(outgoing)
        [url] = rendered["media"]
        assert url.startswith(wa_settings.public_url + "/media/p-") and "sig=" in url
        await adapter.send(Recipient(PHONE, last_inbound_at=utcnow()), rendered)
        assert twilio.sent[-1]["MediaUrl"] == url
        assert twilio.sent[-1]["Body"] == "Foto van de melding"
    finally:
        await adapter.close()
