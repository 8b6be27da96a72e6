"""A remark typed with a poll answer ("nee, de broek is te warm"), kept or refused.

Named polls keep it for the OR to read with the results (storage/vote_comments.py), without
the writer's name. Anonymous polls never store it: a free-text remark next to the person,
or next to the moment of an anonymous vote, could tell who voted what ("Anonymous" is a
promise, docs/privacy.md). The person is told either way.
"""

from __future__ import annotations

from enum import Enum

from bot.conversation import Services
from storage.vote_comments import VoteComments

MAX_COMMENT = 500


class CommentOutcome(Enum):
    KEPT = "kept"
    ANONYMOUS = "anonymous"  # dropped: the poll is anonymous
    NO_VOTE = "no_vote"  # dropped: the answer was not counted (closed, not in the audience)
    TOO_LONG = "too_long"


async def comment_vote(
    services: Services, poll_id: int, person_id: int, text: str
) -> CommentOutcome:
    """Keep `text` with this person's vote on `poll_id` when the poll is named and the vote
    counted; the caller has just cast it in this transaction."""
    poll = await services.polls.get(poll_id)
    if poll is None:
        return CommentOutcome.NO_VOTE
    if poll.anonymous:
        return CommentOutcome.ANONYMOUS
    text = text.strip()
    if len(text) > MAX_COMMENT:
        return CommentOutcome.TOO_LONG
    if not text or not await services.polls.choices_of(poll_id, person_id):
        return CommentOutcome.NO_VOTE
    # Not audited, like the vote itself: the row is the record.
    await VoteComments(services.session).keep(poll_id, person_id, text, services.now)
    return CommentOutcome.KEPT
