"""The roster: people, their roles and their channel accounts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.messages import Recipient
from storage.inbound import find_sender
from storage.models import ChannelAccount, Conversation, OutboxMessage, Person, Role
from storage.sql import insert_ignore
from storage.web import WEB_CHANNEL
from storage.web_models import LoginLink, WebMessage, WebSession

ROLES = ("admin", "or_member", "moderator")


@dataclass(frozen=True, slots=True)
class Audience:
    """Who a poll or message is for: everyone, or one department or location."""

    department: str | None = None
    location: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, str] | None) -> Audience:
        data = data or {}
        return cls(department=data.get("department"), location=data.get("location"))

    def includes(self, person: Person) -> bool:
        """The same rule as the SQL filter in People.audience_ids, for a loaded person."""
        if person.forgotten_at is not None:
            return False
        if self.department and (person.department or "").lower() != self.department.lower():
            return False
        return not (self.location and (person.location or "").lower() != self.location.lower())

    def to_dict(self) -> dict[str, str]:
        out = {}
        if self.department:
            out["department"] = self.department
        if self.location:
            out["location"] = self.location
        return out

    @classmethod
    def parse(cls, spec: str | None) -> Audience:
        """'department=NAME' or 'location=NAME' (CLI syntax); empty means everyone."""
        if not spec:
            return cls()
        key, sep, value = spec.partition("=")
        key = key.strip().lower()
        if not sep or not value.strip() or key not in ("department", "location"):
            raise ValueError("audience must be department=NAME or location=NAME")
        return cls(**{key: value.strip()})


class People:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, person_id: int) -> Person | None:
        return await self.session.get(Person, person_id)

    async def by_email(self, email: str) -> Person | None:
        stmt = select(Person).where(func.lower(Person.email) == email.strip().lower())
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def by_phone(self, phone: str) -> Person | None:
        stmt = select(Person).where(Person.phone == phone.strip())
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def roles(self, person_id: int) -> set[str]:
        stmt = select(Role.role).where(Role.person_id == person_id)
        return set((await self.session.execute(stmt)).scalars())

    async def set_roles(self, person_id: int, roles: set[str]) -> None:
        await self.session.execute(delete(Role).where(Role.person_id == person_id))
        for role in sorted(roles):
            self.session.add(Role(person_id=person_id, role=role))

    async def all(self) -> Sequence[Person]:
        stmt = select(Person).where(Person.forgotten_at.is_(None)).order_by(Person.name)
        return (await self.session.execute(stmt)).scalars().all()

    async def roles_by_person(self) -> dict[int, set[str]]:
        out: dict[int, set[str]] = {}
        for person_id, role in await self.session.execute(select(Role.person_id, Role.role)):
            out.setdefault(person_id, set()).add(role)
        return out

    async def channels_by_person(self) -> dict[int, set[str]]:
        out: dict[int, set[str]] = {}
        stmt = select(ChannelAccount.person_id, ChannelAccount.channel)
        for person_id, channel in await self.session.execute(stmt):
            out.setdefault(person_id, set()).add(channel)
        return out

    def _audience_filter(self, audience: Audience) -> list[object]:
        conds: list[object] = [Person.forgotten_at.is_(None)]
        if audience.department:
            conds.append(func.lower(Person.department) == audience.department.lower())
        if audience.location:
            conds.append(func.lower(Person.location) == audience.location.lower())
        return conds

    async def audience_ids(self, audience: Audience) -> list[int]:
        stmt = select(Person.id).where(*self._audience_filter(audience)).order_by(Person.id)  # type: ignore[arg-type]
        return list((await self.session.execute(stmt)).scalars())

    async def in_audience(self, person_id: int, audience: Audience) -> bool:
        conds = self._audience_filter(audience)
        stmt = select(Person.id).where(Person.id == person_id, *conds)  # type: ignore[arg-type]
        return (await self.session.execute(stmt)).first() is not None

    async def departments(self) -> list[str]:
        return await self._distinct(Person.department)

    async def locations(self) -> list[str]:
        return await self._distinct(Person.location)

    async def _distinct(self, column: object) -> list[str]:
        stmt = (
            select(column)  # type: ignore[call-overload]
            .where(column.is_not(None), Person.forgotten_at.is_(None))  # type: ignore[attr-defined]
            .distinct()
            .order_by(column)
        )
        return [v for v in (await self.session.execute(stmt)).scalars() if v]

    async def forget(self, person: Person, *, now: datetime) -> None:
        """Erase what identifies the person; keep the row so that counts stay right.

        Named ballots, answers and reports stay attached to the now nameless row, so results
        do not change. Everything that names them or a platform id of theirs goes: channel
        accounts, conversation state, every message to or from any of their accounts (web
        chat greetings carry the name), browser sessions and links. The dedupe register holds
        only keyed hashes and is purged within a day (storage/retention.py).
        """
        person_id = person.id
        accounts = (
            await self.session.execute(
                select(ChannelAccount.channel, ChannelAccount.platform_id).where(
                    ChannelAccount.person_id == person_id
                )
            )
        ).all()
        pairs = [tuple(a) for a in accounts]
        web_accounts = [platform_id for channel, platform_id in pairs if channel == WEB_CHANNEL]
        statements: list[Any] = [
            delete(OutboxMessage).where(OutboxMessage.person_id == person_id),
            delete(Conversation).where(Conversation.person_id == person_id),
            delete(Role).where(Role.person_id == person_id),
            delete(LoginLink).where(LoginLink.person_id == person_id),
            delete(WebSession).where(WebSession.person_id == person_id),
            delete(ChannelAccount).where(ChannelAccount.person_id == person_id),
        ]
        if pairs:
            statements.append(
                delete(OutboxMessage).where(
                    tuple_(OutboxMessage.channel, OutboxMessage.account).in_(pairs)
                )
            )
        if web_accounts:
            statements.append(delete(WebMessage).where(WebMessage.account.in_(web_accounts)))
        for statement in statements:
            await self.session.execute(statement.execution_options(synchronize_session=False))
        await self.session.execute(
            update(Person)
            .where(Person.id == person_id)
            .values(
                name="—",
                email=None,
                phone=None,
                department=None,
                location=None,
                forgotten_at=now,
            )
            .execution_options(synchronize_session=False)
        )


class Accounts:
    """Channel accounts: which platform ids belong to which person."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find(self, channel: str, platform_id: str) -> ChannelAccount | None:
        stmt = select(ChannelAccount).where(
            ChannelAccount.channel == channel, ChannelAccount.platform_id == platform_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def find_with_person(
        self, channel: str, platform_id: str
    ) -> tuple[ChannelAccount, Person, set[str]] | None:
        """The account, its person and their roles in one query (the hot path of every event:
        storage/inbound.py runs it on the driver connection)."""
        return await find_sender(self.session, channel, platform_id)

    async def link(self, person_id: int, channel: str, platform_id: str) -> ChannelAccount:
        """Link a platform account to a person; concurrent links of one account are safe."""
        await insert_ignore(
            self.session,
            ChannelAccount.__table__,  # type: ignore[arg-type]
            {"channel": channel, "platform_id": platform_id, "person_id": person_id},
            ["channel", "platform_id"],
        )
        account = await self.find(channel, platform_id)
        assert account is not None
        return account

    async def set_reference(
        self, channel: str, platform_id: str, reference: dict[str, object]
    ) -> bool:
        """Store a conversation reference the platform did not send (Teams, after installing
        the app through Graph), unless one arrived meanwhile: the platform's own wins."""
        result = await self.session.execute(
            update(ChannelAccount)
            .where(
                ChannelAccount.channel == channel,
                ChannelAccount.platform_id == platform_id,
                ChannelAccount.conversation_ref.is_(None),
            )
            .values(conversation_ref=reference)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def recipients(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Recipient]:
        """Delivery context for (channel, platform id) pairs, in one query."""
        if not keys:
            return {}
        stmt = select(ChannelAccount).where(
            tuple_(ChannelAccount.channel, ChannelAccount.platform_id).in_(list(set(keys)))
        )
        return {
            (a.channel, a.platform_id): Recipient(
                account=a.platform_id,
                conversation_ref=a.conversation_ref,
                last_inbound_at=a.last_inbound_at,
            )
            for a in (await self.session.execute(stmt)).scalars()
        }
