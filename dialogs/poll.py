"""Polls: the question as sent, answering it, results, and opening/closing/reminding.

A vote is a button payload `poll:<id>:vote:<option id>` (several joined for a multiple-choice
submission), valid for as long as the poll is open — whatever dialog the person is in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from bot.conversation import Services, Turn
from bot.i18n import t
from bot.messages import PAYLOAD_JOIN, Choice, Outgoing, Purpose
from bot.registry import EachDue, Registry
from bot.text import ascii_int
from storage.deadline import accepts, closed_since
from storage.models import Person, Poll, PollOption
from storage.people import Audience
from storage.polls import CLOSED, OPEN, SCHEDULED, Tally, VoteOutcome


def vote_payload(poll_id: int, option_id: int) -> str:
    return f"poll:{poll_id}:vote:{option_id}"


def poll_message(
    services: Services,
    poll: Poll,
    options: Sequence[PollOption],
    lang: str,
    *,
    reminder: bool = False,
) -> Outgoing:
    lines = [t(lang, "poll.reminder" if reminder else "poll.header", id=poll.id), poll.question, ""]
    lines.append(t(lang, "poll.pick_many" if poll.multiple else "poll.pick_one"))
    if poll.anonymous:
        lines.append(t(lang, "poll.is_anonymous"))
    if poll.closes_at:
        lines.append(t(lang, "poll.closes", when=services.format_time(poll.closes_at, lang)))
    return Outgoing(
        text="\n".join(lines),
        choices=tuple(Choice(o.label, vote_payload(poll.id, o.id)) for o in options),
        multiple=poll.multiple,
        submit_label=t(lang, "common.submit") if poll.multiple else None,
        purpose=Purpose.NOTICE,
    )


def results_text(poll: Poll, tally: Tally, lang: str) -> str:
    total_votes = sum(o.count for o in tally.options)
    head = "poll.results_final" if poll.status == CLOSED else "poll.results_live"
    lines = [t(lang, head, id=poll.id), poll.question, ""]
    for o in tally.options:
        pct = round(100 * o.count / total_votes) if total_votes else 0
        bar = "█" * round(pct / 10)
        lines.append(f"{o.position}. {o.label}: {o.count} ({pct}%) {bar}".rstrip())
    lines.append("")
    lines.append(
        t(lang, "poll.participation", participants=tally.participants, audience=poll.audience_size)
    )
    return "\n".join(lines)


def _parse_vote(payload: str) -> tuple[int, list[int]] | None:
    """(poll id, option ids) from one or more joined vote payloads; None when malformed."""
    poll_ids, option_ids = set(), []
    for part in payload.split(PAYLOAD_JOIN):
        bits = part.split(":")
        if len(bits) != 4 or bits[0] != "poll" or bits[2] != "vote":
            return None
        poll_id, option_id = ascii_int(bits[1]), ascii_int(bits[3])
        if poll_id is None or option_id is None:
            return None
        poll_ids.add(poll_id)
        option_ids.append(option_id)
    if len(poll_ids) != 1:
        return None
    return poll_ids.pop(), option_ids


async def on_poll_button(turn: Turn, payload: str) -> None:
    parsed = _parse_vote(payload)
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
    labels = ", ".join(options[o].label for o in chosen)
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
    turn.reply(results_text(poll, tally, turn.lang))


async def open_poll(services: Services, poll: Poll, *, actor_id: int | None = None) -> int:
    """Open a scheduled poll and send it to its audience; returns how many were sent.

    Safe to call from several processes at once: only the one that flips the status sends.
    """
    audience_ids = await services.people.audience_ids(Audience.from_dict(poll.audience))
    if not await services.polls.mark_open(poll.id, len(audience_ids)):
        return 0
    poll.status, poll.audience_size = OPEN, len(audience_ids)
    options = await services.polls.options(poll.id)
    sent = await services.notify_many(
        audience_ids,
        lambda p: poll_message(services, poll, options, p.language),
        prompt=True,
    )
    await services.audit(
        "poll.opened", actor_id=actor_id, subject=f"poll:{poll.id}", audience=len(audience_ids)
    )
    return sent


async def close_poll(services: Services, poll: Poll, *, actor_id: int | None = None) -> bool:
    """Close an open poll and send everyone in its audience the results."""
    if not await services.polls.mark_closed(poll.id, services.now):
        return False
    poll.status, poll.closed_at = CLOSED, services.now
    tally = await services.polls.tally(poll)
    audience_ids = await services.people.audience_ids(Audience.from_dict(poll.audience))

    def build(person: Person) -> Outgoing:
        return Outgoing(text=results_text(poll, tally, person.language), purpose=Purpose.NOTICE)

    await services.notify_many(audience_ids, build)
    await services.audit("poll.closed", actor_id=actor_id, subject=f"poll:{poll.id}")
    return True


async def remind_nonvoters(services: Services, poll: Poll) -> int:
    """One reminder, to those in the audience who have not answered yet."""
    if not await services.polls.mark_reminded(poll.id, services.now):
        return 0
    audience_ids = await services.people.audience_ids(Audience.from_dict(poll.audience))
    voted = await services.polls.voter_ids(poll)
    options = await services.polls.options(poll.id)
    return await services.notify_many(
        [pid for pid in audience_ids if pid not in voted],
        lambda p: poll_message(services, poll, options, p.language, reminder=True),
        prompt=True,
    )


# The scheduler's poll jobs: the due polls are listed in one read-only transaction, then each
# is handled in its own (bot/registry.py, EachDue). Opening, closing and reminding change the
# poll's status conditionally, so whichever process ticks, each happens once.


async def _due_to_open(services: Services) -> list[int]:
    return await services.polls.due_to_open(services.now)


async def _due_to_close(services: Services) -> list[int]:
    return await services.polls.due_to_close(services.now)


async def _due_for_reminder(services: Services) -> list[int]:
    """Open polls closing within the reminder window, except those due to close now (they
    get their results instead)."""
    hours = services.settings.poll_reminder_hours
    if hours <= 0:
        return []
    polls, now = services.polls, services.now
    closing = set(await polls.due_to_close(now))
    due = await polls.due_for_reminder(now, timedelta(hours=hours))
    return [poll_id for poll_id in due if poll_id not in closing]


async def _open_one(services: Services, poll_id: int) -> int:
    """1 when this call opened the poll and sent it to someone."""
    poll = await services.polls.get(poll_id)
    return int(poll is not None and await open_poll(services, poll) > 0)


async def _close_one(services: Services, poll_id: int) -> int:
    poll = await services.polls.get(poll_id)
    return int(poll is not None and await close_poll(services, poll))


async def _remind_one(services: Services, poll_id: int) -> int:
    """1 when this call sent the poll's reminder to someone."""
    poll = await services.polls.get(poll_id)
    return int(poll is not None and await remind_nonvoters(services, poll) > 0)


def register(registry: Registry) -> None:
    registry.action("poll", on_poll_button)
    # Remind, close, open: each job then sees the polls as the tick found them, so a poll
    # opened by this tick is reminded or closed by a later one, never in the same breath.
    registry.periodic("polls_remind", EachDue(due=_due_for_reminder, each=_remind_one))
    registry.periodic("polls_close", EachDue(due=_due_to_close, each=_close_one))
    registry.periodic("polls_open", EachDue(due=_due_to_open, each=_open_one))
