"""The remarks typed with named votes (storage/vote_comment_models.py): keep and read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Ballot, PollOption
from storage.vote_comment_models import VoteComment


@dataclass(frozen=True, slots=True)
class Comment:
    """A remark as the OR reads it: its text and the options its writer chose, no name."""

    text: str
    choices: tuple[str, ...]


class VoteComments:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def keep(self, poll_id: int, person_id: int, text: str, now: datetime) -> None:
        """Store the remark, replacing this person's earlier one on the poll (a delete and an
        insert: one statement text for SQLite and PostgreSQL, under the person's lock)."""
        await self.session.execute(
            delete(VoteComment).where(
                VoteComment.poll_id == poll_id, VoteComment.person_id == person_id
            )
        )
        self.session.add(
            VoteComment(poll_id=poll_id, person_id=person_id, text=text, written_at=now)
        )
        await self.session.flush()

    async def for_poll(self, poll_id: int) -> list[Comment]:
        """The poll's remarks, oldest first, each with its writer's current choice."""
        stmt = (
            select(VoteComment.id, VoteComment.text, PollOption.label)
            .join(
                Ballot,
                (Ballot.poll_id == VoteComment.poll_id)
                & (Ballot.person_id == VoteComment.person_id),
                isouter=True,
            )
            .join(PollOption, PollOption.id == Ballot.option_id, isouter=True)
            .where(VoteComment.poll_id == poll_id)
            .order_by(VoteComment.written_at, VoteComment.id, PollOption.position)
        )
        found: dict[int, tuple[str, list[str]]] = {}
        for comment_id, text, label in await self.session.execute(stmt):
            entry = found.setdefault(comment_id, (text, []))
            if label is not None:
                entry[1].append(label)
        return [Comment(text, tuple(labels)) for text, labels in found.values()]
