"""Typed answers to polls outside any dialog, read as colleagues type them (issue 13).

"ja hoor 👍", "kerstpaket", "de tweede" or "nee, de broek is te warm" are read by
bot.understand.answers against the poll the person saw last. A reply that does not fit that
poll may answer another poll the person can still answer ("goed idee" for an older one): it
counts there when exactly one such poll fits, and when several do the bot asks which one. A
misread is worse than a refusal: whatever two readings fit is asked back, never guessed.

Dialogs' own questions keep bot.choices.match_choice; this module reads poll prompts, and
(read_prompt_answer) the other questions asked outside a dialog.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.conversation import Turn
from bot.messages import PAYLOAD_JOIN, Choice
from bot.understand.answers import Ambiguous, Matched, understand_answer
from bot.understand.intents import Intent, understand_intent
from bot.understand.normalize import words
from bot.usecases.polls import parse_vote
from bot.usecases.vote_comments import MAX_COMMENT, CommentOutcome, comment_vote
from storage.deadline import accepts
from storage.people import Audience
from storage.prompts import Asked

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, slots=True)
class Reading:
    """What a typed poll answer came to: a vote payload (with a remark the vote cannot keep),
    or nothing (`handled`: the bot already asked back; else fall through to commands/menu)."""

    choice: str | None = None
    remark: str = ""
    handled: bool = False


def poll_of(asked: Asked) -> int | None:
    """The poll id when every choice of `asked` is a vote in one poll, else None."""
    parsed = parse_vote(PAYLOAD_JOIN.join(c.payload for c in asked.choices))
    return None if parsed is None else parsed[0]


async def _seal_if_anonymous(turn: Turn, poll_ids: list[int]) -> None:
    """A question back whose buttons are votes in an anonymous poll is sealed, and its prompt
    is not kept (storage.prompts.sealed_prompt): the payloads would say what the person chose.
    A typed "2" after it is then not understood (buttons and labels still work): a refusal,
    never a vote read against another poll's options."""
    for poll_id in poll_ids:
        poll = await turn.services.polls.get(poll_id)
        if poll is not None and poll.anonymous:
            turn.sealed = True
            return


async def _answerable(turn: Turn, poll_id: int) -> bool:
    """Whether the person may still answer poll `poll_id` (open, theirs, not a spent
    anonymous vote)."""
    services = turn.services
    found = await services.polls.for_voter(poll_id, turn.person.id)
    if found is None:
        return False
    poll = found[0]
    if not accepts(poll.status, poll.closes_at, services.now):
        return False
    if not Audience.from_dict(poll.audience).includes(turn.person):
        return False
    return not (poll.anonymous and await services.polls.has_voted(poll, turn.person.id))


async def _other_polls(
    turn: Turn, latest: int | None, prompts: list[dict[str, Any]]
) -> list[tuple[int, Asked]]:
    """The other polls the person was sent (`prompts`: storage.prompts.recent_prompts) and
    may still answer, newest first."""
    seen: set[int] = set() if latest is None else {latest}
    found = []
    for prompt in prompts:
        asked = Asked.from_json(prompt)
        poll_id = poll_of(asked)
        if poll_id is None or poll_id in seen:
            continue
        seen.add(poll_id)
        if await _answerable(turn, poll_id):
            found.append((poll_id, asked))
    return found


def _label(choices: Sequence[Choice], payload: str) -> str:
    return next((c.label for c in choices if c.payload == payload), payload)


async def read_poll_answer(
    turn: Turn, asked: Asked | None, prompts: list[dict[str, Any]]
) -> Reading:
    """Read the typed reply against the latest poll prompt, then the person's other open
    polls (among `prompts`, their last ones as storage.prompts.recent_prompts has them). Asks
    back (and says `handled`) when the reply fits more than one reading: two options of one
    poll, or several polls. A reading of the latest poll by synonym, number or typo ("goed
    idee" as yes) gives way to a question when another open poll has that very label."""
    text = turn.text
    latest = poll_of(asked) if asked is not None else None
    here: Matched | None = None
    if asked is not None and latest is not None and await _answerable(turn, latest):
        result = understand_answer(text, asked.choices, multiple=asked.multiple)
        if isinstance(result, Ambiguous):
            labels = [_label(asked.choices, p) for p in result.candidates]
            choices = [Choice(label, p) for label, p in zip(labels, result.candidates, strict=True)]
            await _seal_if_anonymous(turn, [latest])
            turn.reply(turn.t("pollanswer.did_you_mean", options=_or(turn, labels)), choices)
            return Reading(handled=True)
        if isinstance(result, Matched):
            if _is_label(text, asked.choices):
                return Reading(PAYLOAD_JOIN.join(result.payloads), result.remark)
            here = result
    fits: list[tuple[int, Asked, Matched]] = []
    for poll_id, other in await _other_polls(turn, latest, prompts):
        if here is not None and not _is_label(text, other.choices):
            continue  # only the other poll's very label competes with a reading of the latest
        result = understand_answer(text, other.choices, multiple=other.multiple)
        if isinstance(result, Matched):
            fits.append((poll_id, other, result))
    if here is not None and asked is not None and latest is not None:
        if not fits:
            return Reading(PAYLOAD_JOIN.join(here.payloads), here.remark)
        fits.append((latest, asked, here))
    if len(fits) == 1 and not _positional(text, len(fits[0][1].choices)):
        _poll_id, _other, matched = fits[0]
        return Reading(PAYLOAD_JOIN.join(matched.payloads), matched.remark)
    if fits:
        # Several polls fit, or a number ("2", "de tweede") that says nothing of which poll.
        fits.sort(key=lambda f: f[0])
        choices = [
            Choice(
                turn.t(
                    "pollanswer.poll_choice",
                    id=poll_id,
                    choice=", ".join(_label(other.choices, p) for p in matched.payloads),
                ),
                PAYLOAD_JOIN.join(matched.payloads),
            )
            for poll_id, other, matched in fits
        ]
        ids = [str(poll_id) for poll_id, _o, _m in fits]
        await _seal_if_anonymous(turn, [poll_id for poll_id, _o, _m in fits])
        turn.reply(turn.t("pollanswer.which_poll", polls=_or(turn, ids)), choices)
        return Reading(handled=True)
    return Reading()


# Jobs a remark may ask for instead of being one ("nee, ik wil geen nieuwsberichten meer").
_JOBS_IN_REMARKS = ("report", "nominate", "change_vote", "opt_out_news", "stats", "language")


async def asked_job_instead(turn: Turn, reading: Reading) -> bool:
    """ "nee, afmelden" after a yes/no poll: an answer with a remark that itself asks for a
    job (bot/understand/intents.py) has two readings, so the bot asks which, with buttons
    for the answer and for the job; True when it asked. A misread is worse than a question."""
    if not reading.choice or not reading.remark:
        return False
    found = understand_intent(reading.remark)
    parsed = parse_vote(reading.choice)
    if not isinstance(found, Intent) or found.name not in _JOBS_IN_REMARKS or parsed is None:
        return False
    arg = f":{found.arg}" if found.name == "language" and found.arg else ""
    await _seal_if_anonymous(turn, [parsed[0]])
    turn.reply(
        turn.t("pollanswer.answer_or_job"),
        [
            Choice(turn.t("pollanswer.just_the_answer", id=parsed[0]), reading.choice),
            Choice(turn.t(f"intent.label_{found.name}"), f"intent:{found.name}{arg}"),
        ],
    )
    return True


async def keep_remark(turn: Turn, payload: str, remark: str) -> None:
    """After a typed vote with a remark: kept with a named vote, dropped (and said so) for an
    anonymous poll, where a remark could tell who voted what."""
    parsed = parse_vote(payload)
    if parsed is None:
        turn.reply(turn.t("pollanswer.remark_not_kept"))
        return
    outcome = await comment_vote(turn.services, parsed[0], turn.person.id, remark)
    key = {
        CommentOutcome.KEPT: "pollanswer.remark_kept",
        CommentOutcome.ANONYMOUS: "pollanswer.remark_anonymous",
        CommentOutcome.TOO_LONG: "pollanswer.remark_too_long",
        CommentOutcome.NO_VOTE: None,  # the vote's own refusal says why nothing counted
    }[outcome]
    if key is not None:
        turn.reply(turn.t(key, max=MAX_COMMENT))


def read_prompt_answer(turn: Turn, asked: Asked) -> Reading:
    """A typed reply to a question outside any dialog that is not a poll (a nominee's
    invitation, an opt-out confirmation): "ja", "nee hoor", "weet ik niet". Only a reply
    that is wholly an answer counts: one with a remark may be meant as something else (a
    reply to a broadcast), and a remark here would be lost. Two fitting choices are asked."""
    result = understand_answer(turn.text, asked.choices, multiple=asked.multiple)
    if isinstance(result, Ambiguous):
        labels = [_label(asked.choices, p) for p in result.candidates]
        choices = [Choice(label, p) for label, p in zip(labels, result.candidates, strict=True)]
        turn.reply(turn.t("pollanswer.did_you_mean", options=_or(turn, labels)), choices)
        return Reading(handled=True)
    if isinstance(result, Matched) and not result.remark:
        return Reading(PAYLOAD_JOIN.join(result.payloads))
    return Reading()


def _positional(text: str, count: int) -> bool:
    """Whether the reply reads as a position ("2", "drie", "de tweede") in any list of `count`
    choices: read against labels that no word can match."""
    neutral = [Choice(f"qzx{_LETTERS[i % len(_LETTERS)]}vq", str(i)) for i in range(count)]
    return isinstance(understand_answer(text, neutral), Matched)


def _is_label(text: str, choices: Sequence[Choice]) -> bool:
    """Whether the reply is one of the labels word for word (case, accents, punctuation and
    emoji aside)."""
    typed = words(text)
    return bool(typed) and any(words(c.label) == typed for c in choices)


def _or(turn: Turn, items: Sequence[str]) -> str:
    """ "A of B", "A, B of C" in the person's language."""
    if len(items) == 1:
        return items[0]
    return turn.t("pollanswer.or_join", head=", ".join(items[:-1]), last=items[-1])
