"""The web chat pages: `/chat`, for colleagues without Teams, Slack or WhatsApp.

A personal invitation link (`achterban web invite EMAIL`, or the dashboard)
opens a cookie session for one person; a typed message, a pressed button or a photo becomes an
Incoming for the engine, which decides everything. Outbound, the delivery worker "sends" a
message by putting it in the person's web mailbox (a table, so any server process can serve
the browser); the page asks for new messages every few seconds, and that request also claims
the person's pending outbox rows itself, so replies appear even on a server run with
--no-worker. Shown messages stay as the chat's recent history (bot/web/chat_history.py), so a
reopened chat shows them again, with what is open for the person (bot/web/chat_open.py).

A photo is checked before anything of it is kept and is held only while its message is
handled (bot/web/uploads.py). The channel's translation is adapters/web.py.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from aiohttp import web

from adapters.web import CHANNEL, WebAdapter, account_of
from bot import photos
from bot.config import Settings
from bot.delivery import DeliveryWorker
from bot.engine import Engine
from bot.errors import UserError
from bot.messages import (
    Incoming,
    MediaRef,
    Profile,
)
from bot.ports import Mount
from bot.seal import Sealer
from bot.web import chat_fields as fields_of
from bot.web.auth import CHAT_COOKIE, CSRF_FIELD, Visitor, clear_cookie, csrf_valid, end_session
from bot.web.auth import load_visitor as load_session
from bot.web.chat_history import (
    Opened,
    open_all,
    open_html,
    page_texts,
    polls_in,
    render_messages,
    settled_ids,
)
from bot.web.chat_join import JoinViews
from bot.web.chat_open import open_items, settled_polls
from bot.web.forms import ascii_int, read_upload
from bot.web.media import media_response, media_store
from bot.web.render import page, secure, see_other
from bot.web.uploads import HeldUploads, UploadQuota, remove_legacy_uploads
from storage.db import Database
from storage.media import MediaError, media_kind
from storage.models import Person, utcnow
from storage.people import People
from storage.web import CHAT, WebMailbox

MAX_TEXT = 4000
MAX_CHOICE = 2000


class StoredMailbox:
    """The web mailbox table behind adapters.web.Mailbox."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def put(self, account: str, payload: dict[str, Any]) -> int:
        async with self.db.transaction() as session:
            return await WebMailbox(session).put(account, payload, now=utcnow())


class WebChat:
    """The chat page and its requests; every POST carries the session's CSRF token."""

    def __init__(self, engine: Engine, adapter: WebAdapter, uploads: HeldUploads) -> None:
        self.engine = engine
        self.adapter = adapter
        self.settings = engine.settings
        self.uploads = uploads
        self.quota = UploadQuota(
            self.settings.upload_max_pending, self.settings.upload_max_per_hour
        )

    def routes(self) -> list[web.RouteDef]:
        join = JoinViews(self.engine, greet=self.greet)
        return [
            web.get("/chat", self.chat_page),
            web.post("/chat/send", self.send),
            web.post("/chat/poll", self.poll),
            web.post("/chat/leave", self.leave),
            web.get("/chat/media/{media}", self.media),
            *join.routes(),
        ]

    async def visitor(self, request: web.Request) -> Visitor | None:
        return await load_session(
            request,
            self.engine.db,
            self.settings,
            cookie=CHAT_COOKIE,
            kind=CHAT,
            now=self.engine.clock(),
        )

    def _no_session(self, request: web.Request) -> web.Response:
        lang = request.headers.get("Accept-Language", "nl")[:2]
        return page("chat_closed.html", lang, self.engine.timezone, status=403)

    async def chat_page(self, request: web.Request) -> web.StreamResponse:
        visitor = await self.visitor(request)
        if visitor is None:
            return self._no_session(request)
        account = account_of(visitor.person.id)
        await self.deliver(account)
        lang = visitor.lang
        messages = await self.messages(account, visitor, lang, after=None)
        items = await open_items(self.engine, visitor.person, lang)
        return page(
            "chat.html",
            lang,
            self.engine.timezone,
            visitor=visitor,
            csrf=visitor.csrf,
            texts=page_texts(lang, visitor.person),
            open_panel=open_html(lang, self.engine.timezone, items, visitor.csrf),
            messages=messages,
            after=messages[-1]["id"] if messages else 0,
            event=secrets.token_hex(8),
        )

    async def send(self, request: web.Request) -> web.StreamResponse:
        visitor = await self.visitor(request)
        if visitor is None:
            return self._no_session(request)
        person_id = visitor.person.id
        admitted = False

        def admit() -> str | None:
            nonlocal admitted
            refused = self.quota.admit(person_id)
            admitted = refused is None
            return refused

        photo: MediaRef | None = None
        before: set[int] | None = None  # polls settled before a typed message
        try:
            fields, photo, problem = await self._read_form(request, visitor, admit)
            if fields is None:
                return web.Response(status=403, text="forbidden")
            account = account_of(person_id)
            text = fields.get("text", "").strip()[:MAX_TEXT]
            choice = fields.get("choice", "")[:MAX_CHOICE] or None
            ref = fields.get("ref", "")
            if problem is None and text:
                before = (await self._poll_state(account, person_id))[1]
            if problem is None and (text or choice or photo):
                await self.engine.handle(
                    Incoming(
                        channel=CHANNEL,
                        event_id=fields_of.event_id(account, fields.get("event", "")),
                        account=account,
                        text=text,
                        choice=choice,
                        attachments=(photo,) if photo else (),
                        locale=visitor.lang,
                        profile=fields_of.profile(visitor),
                        message_ref=ref if ascii_int(ref) is not None else None,
                    )
                )
                if choice and (pressed := ascii_int(ref)) is not None:
                    async with self.engine.db.transaction() as session:
                        await WebMailbox(session).mark_answered(account, pressed)
        finally:
            # The dialog has taken the photo (or had no use for it): nothing keeps it now.
            if photo is not None:
                self.uploads.drop(photo)
            if admitted:
                self.quota.release(person_id)
        return await self._answer(request, visitor, account, fields, problem, before)

    async def poll(self, request: web.Request) -> web.StreamResponse:
        visitor = await self.visitor(request)
        if visitor is None:
            return web.json_response({"session": False}, status=403)
        form = await request.post()
        if not csrf_valid(self.settings, visitor.token, form.get(CSRF_FIELD)):
            return web.Response(status=403, text="forbidden")
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        return await self._answer(request, visitor, account_of(visitor.person.id), fields, None)

    async def leave(self, request: web.Request) -> web.StreamResponse:
        visitor = await self.visitor(request)
        if visitor is None:
            return self._no_session(request)
        form = await request.post()
        if not csrf_valid(self.settings, visitor.token, form.get(CSRF_FIELD)):
            return web.Response(status=403, text="forbidden")
        await end_session(self.engine.db, visitor.token)
        response = page("chat_left.html", visitor.lang, self.engine.timezone)
        clear_cookie(response, CHAT_COOKIE, path="/chat")
        return response

    async def media(self, request: web.Request) -> web.StreamResponse:
        """A photo sent in a message. Its name is the hash of its content, so only someone it
        was sent to knows it; originals are for moderators all the same."""
        visitor = await self.visitor(request)
        if visitor is None:
            return self._no_session(request)
        media_id = request.match_info["media"]
        try:
            kind = media_kind(media_id)
        except MediaError:
            raise web.HTTPNotFound() from None
        if kind == "original" and not visitor.is_moderator:
            return web.Response(status=403, text="forbidden")
        return media_response(media_store(self.engine), media_id)

    async def accept_upload(self, data: bytes) -> MediaRef:
        """Hold an upload for its message once its header passed every check of the photo
        pipeline; raises PhotoRefused (nothing kept) otherwise."""
        header = await asyncio.to_thread(
            photos.inspect, data, max_bytes=self.settings.media_max_bytes
        )
        return self.uploads.hold(data, header.content_type)

    async def _read_form(
        self, request: web.Request, visitor: Visitor, admit: Callable[[], str | None]
    ) -> tuple[dict[str, str] | None, MediaRef | None, UserError | None]:
        """(fields, held photo, why nothing is sent); fields None when the CSRF token is
        wrong. A photo is checked before it is held; a refused one is not kept at all."""
        if request.content_type.startswith("multipart/"):
            upload = await read_upload(
                request,
                self.settings,
                visitor.token,
                file_field="photo",
                max_bytes=self.settings.media_max_bytes,
                admit_file=admit,
            )
            if not upload.csrf_ok:
                return None, None, None
            if upload.refused is not None:
                limits = {"max": self.settings.upload_max_per_hour}
                return upload.fields, None, UserError(upload.refused, **limits)
            if upload.too_large:
                return upload.fields, None, UserError("web.chat.photo_too_large")
            photo = None
            if upload.data is not None:
                try:
                    photo = await self.accept_upload(upload.data)
                except photos.PhotoRefused as refused:
                    return upload.fields, None, refused
            return fields_of.with_picks(upload.fields, upload.lists.get("pick", [])), photo, None
        form = await request.post()
        if not csrf_valid(self.settings, visitor.token, form.get(CSRF_FIELD)):
            return None, None, None
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        picks = [p for p in form.getall("pick", []) if isinstance(p, str)]
        return fields_of.with_picks(fields, picks), None, None

    async def _answer(
        self,
        request: web.Request,
        visitor: Visitor,
        account: str,
        fields: Mapping[str, str],
        problem: UserError | None,
        before: set[int] | None = None,
    ) -> web.StreamResponse:
        after = ascii_int(fields.get("after")) or 0
        await self.deliver(account)
        if after:
            async with self.engine.db.transaction() as session:
                await WebMailbox(session).acknowledge(account, after)
        if request.headers.get("X-Requested-With") != "fetch":
            raise see_other("/chat")
        # What was just sent may have changed the person's language ("english please"); a
        # poll request's visitor was read from the database at its start.
        person = visitor.person
        if request.path == "/chat/send":
            async with self.engine.db.transaction(read_only=True) as session:
                person = await People(session).get(person.id) or person
        lang = person.language or "nl"
        messages = await self.messages(account, visitor, lang, after=after)
        body: dict[str, Any] = {
            "lang": lang,
            "messages": [
                {"id": m["id"], "html": m["html"], "replaces": m["replaces"]} for m in messages
            ],
            "notice": fields_of.notice(lang, problem) if problem else None,
        }
        switched = fields.get("lang") != lang
        if switched:
            body["texts"] = page_texts(lang, person)
        if switched or messages:
            # A vote or a new poll changes what is open; a quiet poll request reads nothing.
            items = await open_items(self.engine, person, lang)
            body["open"] = open_html(lang, self.engine.timezone, items, visitor.csrf)
        if before is not None:
            # A vote typed as "de tweede" settles the poll's buttons as a pressed one does.
            opened, settled = await self._poll_state(account, person.id)
            body["answered"] = settled_ids(opened, settled - before)
        return secure(web.json_response(body))

    async def deliver(self, account: str) -> None:
        """Claim this person's pending web messages now (the browser is waiting for them)."""
        worker = DeliveryWorker(
            self.engine.db, self.settings, {CHANNEL: self.adapter}, accounts=[account]
        )
        await worker.drain()

    async def messages(
        self, account: str, visitor: Visitor, lang: str, *, after: int | None
    ) -> list[dict[str, Any]]:
        """Messages after the browser's last one; with `after` None, the recent history
        (never older than the mailbox retention, even before the purge has run)."""
        async with self.engine.db.transaction(read_only=True) as session:
            mailbox = WebMailbox(session)
            if after is None:
                keep = timedelta(days=self.settings.retention.web_mailbox_days)
                found = await mailbox.recent(account, since=self.engine.clock() - keep)
            else:
                found = await mailbox.waiting(account, after=after)
        opened = open_all(found, self.adapter.sealer)
        # New messages keep their buttons (a poll asked for again, to change a vote); in the
        # history, a poll voted in or closed has none.
        polls = polls_in(opened) if after is None else set()
        settled = await settled_polls(self.engine, visitor.person.id, polls)
        return render_messages(
            opened, settled=settled, lang=lang, timezone=self.engine.timezone, csrf=visitor.csrf
        )

    async def _poll_state(self, account: str, person_id: int) -> tuple[Opened, set[int]]:
        """The recent messages, and the polls among their buttons that are settled."""
        keep = timedelta(days=self.settings.retention.web_mailbox_days)
        async with self.engine.db.transaction(read_only=True) as session:
            found = await WebMailbox(session).recent(account, since=self.engine.clock() - keep)
        opened = open_all(found, self.adapter.sealer)
        return opened, await settled_polls(self.engine, person_id, polls_in(opened))

    async def greet(self, person: Person, key: str) -> None:
        """A new session starts with the bot's greeting, as when opening a chat app."""
        account = account_of(person.id)
        await self.engine.handle(
            Incoming(
                channel=CHANNEL,
                event_id=f"{account}:join:{key}",
                account=account,
                locale=person.language,
                profile=Profile(email=person.email, phone=person.phone, name=person.name),
            )
        )
        await self.deliver(account)


def mount(settings: Settings, engine: Engine) -> Mount:
    """The web chat channel: its adapter, with the mailbox table and the held uploads, and the
    pages (the composition root calls this, as it calls each platform adapter's mount)."""
    remove_legacy_uploads(settings.data_dir)
    uploads = HeldUploads()
    adapter = WebAdapter(StoredMailbox(engine.db), uploads, Sealer(settings.secret))
    return Mount(adapter=adapter, routes=WebChat(engine, adapter, uploads).routes())
