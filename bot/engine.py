"""The engine: one inbound event, handled whole in one transaction (see DESIGN.md, "The flow of
one event"), which events arriving at the same moment share (bot/group_commit.py).

1. remember (channel, event_id) — a platform retry stops here
2. resolve the sender to a roster person (or refuse politely)
3. lock the person's conversation row
4. route: button payload → its action; active dialog → its step; else the menu
5./6. dialogs change rows and queue replies; replies become outbox rows
commit — then the delivery worker is woken.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.conversation import Services, ServiceSettings, Turn
from bot.group_commit import GroupCommit
from bot.i18n import normalise_language, t
from bot.identity import resolve_sender
from bot.messages import Incoming, Outgoing
from bot.metrics import DUPLICATES, HANDLE_SECONDS, INBOUND, REFUSED
from bot.privacy import dedupe_key, keyed_hash
from bot.registry import Registry
from bot.router import route
from bot.seal import Sealer
from storage.broadcast_responses import Responses
from storage.conversations import lock_conversation
from storage.db import Database
from storage.inbound import Freshness, arrive, touch_account
from storage.media import MediaFetcher, MediaStore
from storage.models import OutboxMessage, utcnow
from storage.outbox import outbox_row
from storage.prompts import sealed_prompt
from storage.unit import Store, Unit, raw

log = logging.getLogger(__name__)
# An account's last_inbound_at is rewritten when older than a minute: coarse on purpose, it
# only picks the preferred channel and WhatsApp's 24-hour window, and skipping the write saves
# work on most events. Messages held back while the platform's window was closed (only when
# the person had not written for a day) go out when the person writes again.
FRESHNESS = Freshness(touch_after=timedelta(minutes=1), release_after=timedelta(hours=23))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to an event; adapters only need `duplicate` (for logging)."""

    duplicate: bool = False
    refused: bool = False
    person_id: int | None = None
    replies: int = 0


class Engine:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        registry: Registry,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """`registry` holds the dialogs, actions, commands and periodic jobs (built by the
        composition root: bot/app.py)."""
        self.db = db
        self.settings = settings
        self.registry = registry
        self.clock = clock
        self.outbox_changed = asyncio.Event()
        self.media_store = MediaStore(settings.data_dir / "media")
        # Set by the composition root to download through the channel's adapter.
        self.fetch_media: MediaFetcher | None = None
        self.sealer = Sealer(settings.secret)
        self._events = GroupCommit(db, self._in_unit)
        # Events being handled, by (channel, event id): True once committed.
        self._in_flight: dict[tuple[str, str], asyncio.Future[bool]] = {}

    @property
    def settings(self) -> Settings:
        return self._settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        """What dialogs read of the settings is taken once here, not per event."""
        self._settings = settings
        self.timezone = ZoneInfo(settings.timezone)
        self.service_settings = ServiceSettings.from_settings(settings)

    async def _in_unit(self, unit: Unit, incoming: Incoming) -> Outcome:
        return await self._handle(self.services(unit), incoming)

    def services(self, store: Store) -> Services:
        return Services(
            store=store,
            now=self.clock(),
            settings=self.service_settings,
            media_store=self.media_store,
            fetch_media=self.fetch_media,
            pseudonym=self.pseudonym,
        )

    def pseudonym(self, text: str) -> str:
        return keyed_hash(self.settings.secret, text)

    def _sealed(self, row: dict[str, Any], reply: Outgoing) -> dict[str, Any]:
        if reply.sealed:
            row["payload"] = self.sealer.seal(row["payload"])
        return row

    async def handle(self, incoming: Incoming) -> Outcome:
        """Handle one event exactly once. Raises StoreUnavailable when the database is down."""
        started = time.perf_counter()
        key = (incoming.channel, incoming.event_id)
        first = self._in_flight.get(key)
        if first is not None and await asyncio.shield(first):
            # A platform retry while this process still handles the first delivery: it waits
            # for that one here, not for its row in inbound_events (which would hold up the
            # retry's whole group until the first's group commits).
            outcome = Outcome(duplicate=True)
        else:
            outcome = await self._once(key, incoming)
        HANDLE_SECONDS.labels(incoming.channel).observe(time.perf_counter() - started)
        if outcome.duplicate:
            DUPLICATES.labels(incoming.channel).inc()
        else:
            INBOUND.labels(incoming.channel).inc()
            self.outbox_changed.set()
        return outcome

    async def _once(self, key: tuple[str, str], incoming: Incoming) -> Outcome:
        handled = self._in_flight[key] = asyncio.get_running_loop().create_future()
        committed = False
        try:
            if incoming.attachments:
                # Their downloads run inside the transaction: no group waits for them.
                outcome = await self._events.alone(incoming)
            else:
                outcome = await self._events.submit(incoming)
            committed = True
        finally:
            handled.set_result(committed)  # if not, a retry waiting for it tries again
            if self._in_flight.get(key) is handled:
                del self._in_flight[key]
        return outcome

    async def home(self, channel: str, account: str) -> Outgoing | None:
        """What is open for the person behind a platform account (None if unknown): for a
        platform's home screen, read-only, outside any event."""
        if self.registry.home is None:
            return None
        async with self.db.transaction(read_only=True) as session:
            services = self.services(session)
            known = await services.accounts.find_with_person(channel, account)
            if known is None or known[1].forgotten_at is not None:
                return None
            return await self.registry.home(services, known[1])

    async def record_reaction(
        self,
        channel: str,
        platform_message_id: str,
        reaction: str,
        *,
        account: str | None,
        added: bool,
    ) -> None:
        """A platform reaction (Slack reaction_added/removed, Teams messageReaction) on a
        message we sent; counted for broadcasts, idempotent so platform retries are harmless."""
        async with self.db.transaction() as session:
            await Responses(session).record_reaction(
                channel, platform_message_id, reaction, account=account, added=added,
                now=self.clock(),
            )  # fmt: skip

    async def record_status(
        self, channel: str, platform_message_id: str, status: str, *, error: str | None
    ) -> None:
        """A platform's delivery status callback (adapters.base.EngineApi): adapters do not
        write to the store themselves."""
        from storage.delivery_reports import DeliveryReports

        async with self.db.transaction() as session:
            await DeliveryReports(session).record(
                channel, platform_message_id, status, at=utcnow(), error=error
            )

    async def store_reference(self, channel: str, account: str, reference: dict[str, Any]) -> None:
        """A conversation reference an adapter obtained outside an event (adapters.base
        .EngineApi): adapters do not write to the store themselves."""
        from storage.people import Accounts

        async with self.db.transaction() as session:
            await Accounts(session).set_reference(channel, account, reference)

    async def _handle(self, services: Services, incoming: Incoming) -> Outcome:
        key = dedupe_key(self.settings.secret, incoming.channel, incoming.event_id)
        arrival = await arrive(
            services.store, incoming.channel, key, incoming.account, services.now, FRESHNESS
        )
        if not arrival.new:
            return Outcome(duplicate=True)
        found = await resolve_sender(services, incoming, arrival.sender)
        if found is None:
            REFUSED.labels(incoming.channel).inc()
            lang = normalise_language(incoming.locale or self.settings.locale)
            refusal = Outgoing(text=t(lang, "identity.not_on_roster"))
            row = outbox_row(incoming.channel, incoming.account, None, refusal, now=services.now)
            await queue(
                services, [row | {"prompt": None, "recipient_ref": incoming.conversation_ref}]
            )
            return Outcome(refused=True, replies=1)
        person, account, roles = found
        last = account.last_inbound_at
        if not arrival.touched and FRESHNESS.touch(last, services.now):
            # A newly linked account (the first statement did not know it).
            held = FRESHNESS.release(last, services.now)
            await touch_account(services.store, account, services.now, release_held=held)
        conversation = arrival.conversation
        if conversation is None or conversation.person_id != person.id:
            conversation = await lock_conversation(services.store, person.id)
        turn = Turn(
            incoming=incoming,
            person=person,
            roles=roles,
            services=services,
            conversation=conversation,
            registry=self.registry,
        )
        try:
            if not turn.expire_if_idle():
                await route(turn)
            turn.touch()
        except Exception:
            # An unexpected bug must not lose the event silently nor leave half a change:
            # re-raise so the transaction rolls back; the caller logs once with context.
            log.exception(
                "dialog failed", extra={"channel": incoming.channel, "dialog": conversation.dialog}
            )
            raise
        rows = [
            self._sealed(
                outbox_row(incoming.channel, incoming.account, person.id, reply, now=services.now)
                | {
                    "prompt": sealed_prompt(prompt) if reply.sealed else prompt,
                    "recipient_ref": None,
                },
                reply,
            )
            for reply, prompt in turn.replies
        ]
        await queue(services, rows)
        return Outcome(person_id=person.id, replies=len(turn.replies))


async def queue(services: Services, rows: list[dict[str, Any]]) -> None:
    """The event's replies as outbox rows, in one statement on the driver connection."""
    await (await raw(services.store)).insert(OutboxMessage.__table__, rows)  # type: ignore[arg-type]
