"""A colleague's first message from a new platform account: find them on the roster by e-mail
or phone and link the account, in one statement on PostgreSQL.

At a council's first poll nearly every vote is such a first contact. Done as separate ORM
statements (find by e-mail, by phone, link, read the link back, roles, note the time, release
held messages) it cost several times a known sender's event; here it is one round trip on the
driver connection (storage/raw.py). SQLite, and the rare account linked by another event at
the same moment, take the ordinary path (bot/identity.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.models import ChannelAccount, Person
from storage.outbox import release_held_sql
from storage.raw import Query, Shape
from storage.unit import Store, adopt, raw

_ACCOUNT = Shape.of(ChannelAccount.__table__)  # type: ignore[arg-type]
_PERSON = Shape.of(Person.__table__, "p")  # type: ignore[arg-type]

# The e-mail wins over the phone, as in People.by_email/by_phone (both are unique). A new
# account is written as having just written: its last_inbound_at is now, and messages held
# for it (WhatsApp's window) go out now, as touch_account would do.
_LINK = Query(
    "WITH p AS ("
    f" SELECT {_PERSON.select_as('p')} FROM people p"
    " WHERE lower(p.email) = $3 OR p.phone = $4"
    " ORDER BY (lower(p.email) = $3) IS TRUE DESC LIMIT 1"
    "), a AS ("
    " INSERT INTO channel_accounts (channel, platform_id, person_id, created_at, last_inbound_at)"
    " SELECT $1, $2, p_id, $5, $5 FROM p WHERE p_forgotten_at IS NULL"
    " ON CONFLICT (channel, platform_id) DO NOTHING"
    f" RETURNING {_ACCOUNT.select_list}"
    "), h AS ("
    f" {release_held_sql(now='$5', channel='$1', account='$2')}"
    " AND EXISTS (SELECT 1 FROM a)"
    ")"
    f" SELECT {_PERSON.renamed('p', 'p')},"
    " (SELECT string_agg(r.role, ',') FROM roles r WHERE r.person_id = p.p_id),"
    f" {_ACCOUNT.renamed_plain('a')}"
    " FROM p LEFT JOIN a ON true",
    params=(None, None, None, None, ChannelAccount.__table__.c.created_at.type),
    columns=(*_PERSON.types, None, *_ACCOUNT.types),
)


@dataclass(frozen=True, slots=True)
class Linked:
    """The colleague a new account belongs to (None: nobody on the roster, or forgotten) and,
    when there is one, the account now linked and their roles."""

    person: Person | None
    account: ChannelAccount | None = None
    roles: frozenset[str] = frozenset()


NOBODY = Linked(person=None)


async def link_first_contact(
    store: Store,
    channel: str,
    platform_id: str,
    *,
    email: str | None,
    phone: str | None,
    now: datetime,
) -> Linked | None:
    """The roster person with this e-mail (any case) or phone, with the account linked to
    them; None when this backend or a concurrent link leaves it to the ordinary path."""
    sql = await raw(store)
    if not sql.is_postgres:
        return None
    email = email.strip().lower() if email else None
    phone = phone.strip() if phone else None
    if not email and not phone:
        return NOBODY
    row = await sql.fetchrow(_LINK, channel, platform_id, email, phone, now)
    if row is None:
        return NOBODY
    values = _PERSON.values(row)
    if values["forgotten_at"] is not None:
        return NOBODY
    start = len(_PERSON.names)
    if row[start + 1] is None:
        return None  # linked by another event meanwhile: read it as the ordinary path does
    person = adopt(store, Person, values)
    account = adopt(store, ChannelAccount, _ACCOUNT.values(row, start + 1))
    roles = row[start]
    return Linked(person, account, frozenset(roles.split(",")) if roles else frozenset())
