"""Polls: create (once or recurring), open, close and remind, and the scheduler's poll jobs.

Every path that makes or changes a poll — the chat dialog (dialogs/poll_create.py,
dialogs/poll_commands.py), the dashboard (bot/web/poll_views.py), the CLI (bot/cli/poll.py),
the scheduler and the tests' helper — calls these commands, so each rule below holds on all
of them: 1..500 characters of question; 2..10 distinct options (compared folded: case and
accents) of 1..200 characters; a closing time after the opening and in the future; an
audience with somebody in it; repeating weekly or monthly. A broken rule raises PollRefused,
whose `field` names the form field it concerns.

Opening, closing and reminding change the poll's status conditionally, so whichever process
runs them, each happens once. The result of a command that queued messages says so
(`wake`): the caller that can wake the delivery worker does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.choices import fold
from bot.conversation import Services
from bot.fanout import per_language
from bot.messages import PAYLOAD_JOIN, Outgoing, Purpose
from bot.text import ascii_int
from bot.usecases import Refused
from bot.usecases.poll_messages import poll_message as poll_message  # re-exported
from bot.usecases.poll_messages import results_text as results_text
from bot.usecases.poll_messages import vote_payload as vote_payload
from bot.usecases.poll_repeat import REPEATS, anchor, next_occurrence
from storage.models import Poll
from storage.people import Audience
from storage.poll_schedules import PollSchedules
from storage.polls import CLOSED, OPEN
from storage.recurring_models import PollSchedule

MAX_OPTIONS, MIN_OPTIONS = 10, 2
MAX_QUESTION, MAX_OPTION = 500, 200
# The parameters of every refusal text, so any catalogue text may name any limit.
LIMITS = {
    "max_question": MAX_QUESTION,
    "min_options": MIN_OPTIONS,
    "max_options": MAX_OPTIONS,
    "max_option": MAX_OPTION,
}


class PollRefused(Refused):
    """A poll rule is broken; `field` is the input it concerns (question, options, closes,
    audience, repeat), for a form that shows the message next to it."""

    def __init__(self, key: str, field: str) -> None:
        super().__init__(key, **LIMITS)
        self.field = field


@dataclass(frozen=True, slots=True)
class PollDraft:
    """What a caller asks for; the command checks it."""

    question: str
    options: Sequence[str]
    multiple: bool = False
    anonymous: bool = False
    hide_results: bool = False
    audience: Audience = field(default_factory=Audience)
    opens_at: datetime | None = None  # None: now
    closes_at: datetime | None = None
    repeat: str | None = None  # None, "weekly" or "monthly"
    # Optional English texts for English-speaking colleagues: the question, and then a label
    # for every option (the same number, in the same order) or none at all.
    question_en: str | None = None
    options_en: Sequence[str] | None = None


@dataclass(frozen=True, slots=True)
class Created:
    poll: Poll
    sent: int
    schedule: PollSchedule | None = None

    @property
    def wake(self) -> bool:
        """Messages were queued: wake the delivery worker after the commit."""
        return self.sent > 0


# --- the rules, one function each -------------------------------------------------------


def check_question(question: str) -> str:
    question = question.strip()
    if not question or len(question) > MAX_QUESTION:
        raise PollRefused("pollrule.question_length", "question")
    return question


def check_option(label: str, earlier: Sequence[str] = ()) -> str:
    """One more option: its length, and that it differs from the earlier ones."""
    label = label.strip()
    if not label or len(label) > MAX_OPTION:
        raise PollRefused("pollrule.option_length", "options")
    if fold(label) in {fold(o) for o in earlier}:
        raise PollRefused("pollrule.option_duplicate", "options")
    return label


def check_option_count(count: int) -> None:
    if not MIN_OPTIONS <= count <= MAX_OPTIONS:
        raise PollRefused("pollrule.option_count", "options")


def check_options(options: Sequence[str]) -> list[str]:
    check_option_count(len(options))
    checked: list[str] = []
    for label in options:
        checked.append(check_option(label, checked))
    return checked


def check_english(draft: PollDraft, count: int) -> tuple[str | None, list[str] | None]:
    """The optional English question and labels, checked like the Dutch ones. Labels for
    some options only would show an English colleague a mix, so it is all or none; empty
    texts count as not given."""
    question_en = draft.question_en.strip() if draft.question_en else ""
    given = [o for o in draft.options_en or () if o.strip()]
    if given and not question_en:
        raise PollRefused("english.question_missing", "question_en")
    try:
        question = check_question(question_en) if question_en else None
    except PollRefused as refused:
        raise PollRefused(refused.key, "question_en") from None
    if not given:
        return question, None
    if len(given) != count:
        raise PollRefused("english.option_count", "options_en")
    try:
        return question, check_options(given)
    except PollRefused as refused:
        raise PollRefused(refused.key, "options_en") from None


def check_closes(closes_at: datetime | None, *, now: datetime, opens_at: datetime | None) -> None:
    if closes_at is not None and closes_at <= max(opens_at or now, now):
        raise PollRefused("pollrule.closes_past", "closes")


def check_repeat(repeat: str | None) -> None:
    if repeat is not None and repeat not in REPEATS:
        raise PollRefused("pollrule.repeat_unknown", "repeat")


async def check_audience(services: Services, audience: Audience) -> list[int]:
    """The audience's people; refused when nobody is in it (a poll sent to nobody)."""
    ids = await services.people.audience_ids(audience)
    if not ids:
        raise PollRefused("pollrule.audience_empty", "audience")
    return ids


# --- commands ----------------------------------------------------------------------------


async def create_poll(
    services: Services, draft: PollDraft, *, actor_id: int | None, via: str | None = None
) -> Created:
    """Check the draft, store the poll (and its schedule when it repeats), and open it when
    its opening time has come."""
    question = check_question(draft.question)
    options = check_options(draft.options)
    question_en, options_en = check_english(draft, len(options))
    opens_at = draft.opens_at or services.now
    check_closes(draft.closes_at, now=services.now, opens_at=opens_at)
    check_repeat(draft.repeat)
    await check_audience(services, draft.audience)
    poll = await services.polls.create(
        question=question,
        options=options,
        multiple=draft.multiple,
        anonymous=draft.anonymous,
        hide_results=draft.hide_results,
        audience=draft.audience,
        opens_at=opens_at,
        closes_at=draft.closes_at,
        created_by=actor_id,
        question_en=question_en,
        options_en=options_en,
    )
    where = {"via": via} if via else {}
    await services.audit("poll.created", actor_id=actor_id, subject=f"poll:{poll.id}", **where)
    schedule = None
    if draft.repeat is not None:
        schedule = await _add_schedule(
            services, draft, (question, question_en), (options, options_en), opens_at, actor_id
        )
    sent = 0
    if opens_at <= services.now:
        sent = await open_poll(services, poll, actor_id=actor_id)
    return Created(poll, sent, schedule)


async def _add_schedule(
    services: Services,
    draft: PollDraft,
    questions: tuple[str, str | None],
    labels: tuple[list[str], list[str] | None],
    opens_at: datetime,
    actor_id: int | None,
) -> PollSchedule:
    """The schedule of a recurring poll, anchored on its first copy's opening time; it keeps
    the checked texts, Dutch and English."""
    (question, question_en), (options, options_en) = questions, labels
    close_after = None
    if draft.closes_at is not None:
        close_after = round((draft.closes_at - opens_at).total_seconds() / 60)
    schedule = PollSchedule(
        question=question,
        options=options,
        question_en=question_en,
        options_en=options_en,
        multiple=draft.multiple,
        anonymous=draft.anonymous,
        hide_results=draft.hide_results,
        audience=draft.audience.to_dict(),
        repeat=draft.repeat,
        close_after_minutes=close_after,
        created_by=actor_id,
    )
    anchor(schedule, opens_at, services.settings.timezone)
    await PollSchedules(services.session).add(schedule)
    await services.audit(
        "poll.repeat_created", actor_id=actor_id, subject=f"poll_schedule:{schedule.id}"
    )
    return schedule


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
        per_language(lambda lang: poll_message(services, poll, options, lang)),
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

    def build(lang: str) -> Outgoing:
        return Outgoing(text=results_text(poll, tally, lang), purpose=Purpose.NOTICE)

    await services.notify_many(audience_ids, per_language(build))
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
        per_language(lambda lang: poll_message(services, poll, options, lang, reminder=True)),
        prompt=True,
    )


async def open_next_repeat(services: Services, schedule_id: int) -> int:
    """Open the due copy of a recurring poll; 1 when this call opened it.

    The schedule's next_at moves on with a conditional UPDATE from the value read, in the
    same transaction as the new poll: of several schedulers ticking at once, one opens the
    copy. Copies missed while no scheduler ran are not made up: the next is after now.
    """
    schedules = PollSchedules(services.session)
    schedule = await schedules.get(schedule_id)
    if schedule is None or schedule.next_at > services.now:
        return 0
    following = next_occurrence(schedule, services.now, services.settings.timezone)
    if not await schedules.advance(schedule.id, schedule.next_at, following):
        return 0
    minutes = schedule.close_after_minutes
    draft = PollDraft(
        question=schedule.question,
        options=schedule.options,
        question_en=schedule.question_en,
        options_en=schedule.options_en,
        multiple=schedule.multiple,
        anonymous=schedule.anonymous,
        hide_results=schedule.hide_results,
        audience=Audience.from_dict(schedule.audience),
        closes_at=services.now + timedelta(minutes=minutes) if minutes else None,
    )
    try:
        created = await create_poll(services, draft, actor_id=None, via="repeat")
    except PollRefused as refused:
        # Rules are checked before anything is written: only the schedule moved on.
        subject = f"poll_schedule:{schedule.id}"
        await services.audit("poll.repeat_skipped", subject=subject, reason=refused.key)
        return 0
    return int(created.sent > 0)


# --- the scheduler's jobs: list what is due (read-only), then one transaction per item ---


async def due_to_open(services: Services) -> list[int]:
    return await services.polls.due_to_open(services.now)


async def due_to_close(services: Services) -> list[int]:
    return await services.polls.due_to_close(services.now)


async def due_for_reminder(services: Services) -> list[int]:
    """Open polls closing within the reminder window, except those due to close now (they
    get their results instead)."""
    hours = services.settings.poll_reminder_hours
    if hours <= 0:
        return []
    polls, now = services.polls, services.now
    closing = set(await polls.due_to_close(now))
    due = await polls.due_for_reminder(now, timedelta(hours=hours))
    return [poll_id for poll_id in due if poll_id not in closing]


async def due_repeats(services: Services) -> list[int]:
    return await PollSchedules(services.session).due(services.now)


async def open_one(services: Services, poll_id: int) -> int:
    """1 when this call opened the poll and sent it to someone."""
    poll = await services.polls.get(poll_id)
    return int(poll is not None and await open_poll(services, poll) > 0)


async def close_one(services: Services, poll_id: int) -> int:
    poll = await services.polls.get(poll_id)
    return int(poll is not None and await close_poll(services, poll))


async def remind_one(services: Services, poll_id: int) -> int:
    """1 when this call sent the poll's reminder to someone."""
    poll = await services.polls.get(poll_id)
    return int(poll is not None and await remind_nonvoters(services, poll) > 0)


# --- reading the buttons a poll sends (bot/usecases/poll_messages.py writes them) ----------


def parse_vote(payload: str) -> tuple[int, list[int]] | None:
    """(poll id, option ids) from one or more joined vote payloads (`vote_payload`'s
    inverse); None when malformed or when they name more than one poll."""
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
