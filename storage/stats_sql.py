"""The one query behind `achterban stats` (storage/stats.py): per item, how many people it
reached and how many responded, counted per (channel, department, location) cell.

Why one query: at 1,000,000 ballots, reading every outbox row and ballot into Python (and
decoding each prompt's JSON to learn its poll) took 22-28 s. Here the database does it: the
outbox names the item in plain columns (about_kind, about_id; storage/prompt_items.py), the
contacts (outbox rows, broadcast recipients) and the responses (ballots, participations,
answers, nominations, broadcast replies and reactions) are one UNION ALL, folded to one row
per (item, person), and counted per cell. Python only adds up the cells per dimension and
applies the privacy threshold (storage.stats.suppress).

The rules are those of storage/stats.py's docstring: reached means a platform accepted the
message (sent, held) or reported it delivered or read; anyone who responded counts as
reached; a person's channel is that of a message that reached them, else of any message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, false, func, literal, null, or_, select, true, union_all

from storage.broadcast_models import BroadcastReaction, BroadcastRecipient, BroadcastReply
from storage.models import (
    Ballot,
    Nomination,
    OpenAnswer,
    OutboxMessage,
    Participation,
    Person,
    Poll,
    QuestionParticipation,
)

REACHED = ("sent", "held")
REPORTED = ("delivered", "read")


@dataclass(frozen=True)
class Cell:
    """People of one item with the same channel, department and location."""

    channel: str | None
    department: str | None
    location: str | None
    reach: int
    responses: int


def _row(kind: Any, item: Any, person: Any, **cols: Any) -> Any:
    """One branch of the union, with every column in the same order and type."""
    return select(
        literal(kind).label("kind") if isinstance(kind, str) else kind.label("kind"),
        item.label("item"),
        person.label("person"),
        cols.get("channel", null()).label("channel"),
        cols.get("reached_channel", null()).label("reached_channel"),
        cols.get("reached", literal(0)).label("reached"),
        cols.get("responded", literal(0)).label("responded"),
    )


def _contacts(since: datetime | None) -> list[Any]:
    o, r = OutboxMessage, BroadcastRecipient
    got = or_(o.status.in_(REACHED), o.delivery_status.in_(REPORTED))
    reached = case((got, 1), else_=0)
    prompts = _row(
        o.about_kind, o.about_id, o.person_id,
        channel=o.channel, reached_channel=case((got, o.channel)), reached=reached,
    ).where(o.about_kind.is_not(None), o.person_id.is_not(None))  # fmt: skip
    if since is not None:
        prompts = prompts.where(o.created_at >= since)
    answered = or_(and_(r.feedback.is_not(None), r.feedback != ""), r.acknowledged_at.is_not(None))
    recipients = (
        _row(
            "broadcast",
            r.broadcast_id,
            r.person_id,
            channel=r.channel,
            reached_channel=r.channel,
            reached=reached,
            responded=case((answered, 1), else_=0),
        )
        .select_from(r)
        .outerjoin(o, o.id == r.outbox_id)
        .where(r.state == "queued")
    )
    return [prompts, recipients]


def _responses() -> list[Any]:
    yes = {"responded": literal(1)}
    named = Poll.anonymous == false()
    anonymous = Poll.anonymous == true()
    out = [
        _row("poll", Ballot.poll_id, Ballot.person_id, **yes)
        .join(Poll, Poll.id == Ballot.poll_id)
        .where(named),
        _row("poll", Participation.poll_id, Participation.person_id, **yes)
        .join(Poll, Poll.id == Participation.poll_id)
        .where(anonymous),
        _row("question", OpenAnswer.question_id, OpenAnswer.person_id, **yes),
        _row("question", QuestionParticipation.question_id, QuestionParticipation.person_id, **yes),
        _row("campaign", Nomination.campaign_id, Nomination.nominator_id, **yes),
        _row("broadcast", BroadcastReply.broadcast_id, BroadcastReply.person_id, **yes),
        _row("broadcast", BroadcastReaction.broadcast_id, BroadcastReaction.person_id, **yes),
    ]
    return [stmt.where(stmt.selected_columns.person.is_not(None)) for stmt in out]


def figures(since: datetime | None, only: dict[str, set[int]] | None = None) -> Any:
    """(kind, item, channel, department, location, reach, responses) per cell; of the items
    in `only` (kind -> ids) when given, the others being cached (storage/stats_cache.py)."""
    u = union_all(*_contacts(since), *_responses()).subquery("u")
    chosen: Any = true()
    if only is not None:
        chosen = or_(false(), *(and_(u.c.kind == k, u.c.item.in_(ids)) for k, ids in only.items()))
    person = (
        select(
            u.c.kind,
            u.c.item,
            u.c.person,
            func.coalesce(func.max(u.c.reached_channel), func.max(u.c.channel)).label("channel"),
            func.max(u.c.responded).label("responded"),
        )
        .where(chosen)
        .group_by(u.c.kind, u.c.item, u.c.person)
        .having(or_(func.max(u.c.reached) > 0, func.max(u.c.responded) > 0))
        .subquery("per_person")
    )
    p = Person
    return (
        select(
            person.c.kind,
            person.c.item,
            person.c.channel,
            p.department,
            p.location,
            func.count().label("reach"),
            func.sum(person.c.responded).label("responses"),
        )
        .select_from(person.outerjoin(p, p.id == person.c.person))
        .group_by(person.c.kind, person.c.item, person.c.channel, p.department, p.location)
    )
