"""Polls in the chat: answering one (a button or a typed answer) and showing results.

Creating, opening, closing and reminding, the scheduler's poll jobs and the poll's message
live in the use case (bot/usecases/polls.py); this module registers them.

A vote is a button payload `poll:<id>:vote:<option id>` (several joined for a multiple-choice
submission), valid for as long as the poll is open — whatever dialog the person is in.
"""

from __future__ import annotations

from bot.conversation import Turn
from bot.i18n import pick
from bot.registry import EachDue, Registry
from bot.usecases import polls as poll_cases
from bot.usecases.polls import close_poll, parse_vote, poll_message, results_text, vote_payload
from storage.deadline import accepts, closed_since
from storage.models import Poll
from storage.people import Audience
from storage.polls import CLOSED, SCHEDULED, Tally, VoteOutcome
from storage.vote_comments import Comment, VoteComments

# The newest remarks shown in the chat; the CLI and its JSON give them all.
SHOWN_REMARKS = 20

# Re-exported for the modules that still name them here (dialogs/poll_commands.py, tests).
__all__ = ["close_poll", "poll_message", "vote_payload"]


async def on_poll_button(turn: Turn, payload: str) -> None:
    parsed = parse_vote(payload)
    if parsed is None:
        turn.reply(turn.t("common.button_invalid"))
        return
    poll_id, option_ids = parsed
    await cast_vote(turn, poll_id, option_ids)


async def cast_vote(turn: Turn, poll_id: int, option_ids: list[int]) -> None:
    services = turn.services
    found = await services.polls.for_voter(poll_id, turn.person.id)
    if found is None:
        turn.reply(turn.t("poll.not_found", id=poll_id))
        return
    poll, option_rows, before = found
    if poll.status == SCHEDULED:
        turn.reply(turn.t("poll.not_open_yet", id=poll.id))
        return
    if not accepts(poll.status, poll.closes_at, services.now):
        # Past its closing time, even if the scheduler has not closed it yet.
        refuse_closed(turn, poll)
        return
    if not Audience.from_dict(poll.audience).includes(turn.person):
        turn.reply(turn.t("poll.not_in_audience", id=poll.id))
        return
    options = {o.id: o for o in option_rows}
    chosen = sorted(set(option_ids))
    if not chosen or any(o not in options for o in chosen):
        turn.reply(turn.t("common.button_invalid"))
        return
    if len(chosen) > 1 and not poll.multiple:
        turn.reply(turn.t("poll.only_one"))
        return
    polls, person_id, channel = services.polls, turn.person.id, turn.incoming.channel
    tally: Tally | None = None
    if poll.hide_results or poll.anonymous:
        # No tally after an anonymous vote: this message is stored under the voter's account
        # until it is sent, and its difference from the previous voter's would be the vote.
        outcome = await polls.vote(
            poll, person_id, chosen, channel, now=services.now, before=before
        )
    else:
        outcome, tally = await polls.vote_and_tally(
            poll, person_id, chosen, channel, option_rows, now=services.now, before=before
        )
    if outcome is VoteOutcome.CLOSED:
        refuse_closed(turn, poll)
        return
    labels = ", ".join(pick(turn.lang, options[o].label, options[o].label_en) for o in chosen)
    if outcome is VoteOutcome.ALREADY_VOTED:
        turn.reply(turn.t("poll.anonymous_already"))
        return
    key = {
        VoteOutcome.NEW: "poll.voted_anonymous" if poll.anonymous else "poll.voted",
        VoteOutcome.CHANGED: "poll.vote_changed",
        VoteOutcome.UNCHANGED: "poll.vote_unchanged",
    }[outcome]
    text = turn.t(key, id=poll.id, choice=labels)
    if tally is not None:
        text += "\n\n" + results_text(poll, tally, turn.lang)
    turn.reply(text, replaces=turn.incoming.message_ref if turn.incoming.choice else None)


def refuse_closed(turn: Turn, poll: Poll) -> None:
    """Nothing was counted: say so, and since when the poll is closed."""
    since = closed_since(poll.closes_at, poll.closed_at)
    if since is None:
        turn.reply(turn.t("poll.closed_refused", id=poll.id))
        return
    when = turn.services.format_time(since, turn.lang)
    turn.reply(turn.t("poll.closed_since", id=poll.id, when=when))


async def show_results(turn: Turn, poll_id: int) -> None:
    """Results for one poll: the OR always; others when live results are on or it closed."""
    poll = await turn.services.polls.get(poll_id)
    if poll is None:
        turn.reply(turn.t("poll.not_found", id=poll_id))
        return
    visible = poll.status == CLOSED or not poll.hide_results
    if not turn.is_or_member:
        in_audience = await turn.services.people.in_audience(
            turn.person.id, Audience.from_dict(poll.audience)
        )
        if not in_audience or not visible or poll.status == SCHEDULED:
            turn.reply(turn.t("poll.results_hidden", id=poll.id))
            return
    tally = await turn.services.polls.tally(poll)
    text = results_text(poll, tally, turn.lang)
    if turn.is_or_member and not poll.anonymous:
        text += remarks_text(turn, await VoteComments(turn.services.session).for_poll(poll.id))
    turn.reply(text)


def remarks_text(turn: Turn, comments: list[Comment]) -> str:
    """The remarks typed with named votes, for the OR: text and choice, never a name."""
    if not comments:
        return ""
    lines = ["", "", turn.t("pollanswer.remarks_header", count=len(comments))]
    for comment in comments[-SHOWN_REMARKS:]:
        choice = ", ".join(comment.choices) or "-"
        lines.append(turn.t("pollanswer.remark_line", text=comment.text, choice=choice))
    return "\n".join(lines)


def register(registry: Registry) -> None:
    registry.action("poll", on_poll_button)
    # Remind, close, open: each job then sees the polls as the tick found them, so a poll
    # opened by this tick is reminded or closed by a later one, never in the same breath.
    uc = poll_cases
    registry.periodic("polls_remind", EachDue(due=uc.due_for_reminder, each=uc.remind_one))
    registry.periodic("polls_close", EachDue(due=uc.due_to_close, each=uc.close_one))
    registry.periodic("polls_open", EachDue(due=uc.due_to_open, each=uc.open_one))
    # Recurring polls: a due schedule opens its next copy (exactly once across processes).
    registry.periodic("polls_repeat", EachDue(due=uc.due_repeats, each=uc.open_next_repeat))
