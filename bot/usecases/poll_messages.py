"""The messages a poll sends, in each reader's language: the poll with its buttons and the
results. The author's English question and labels go to English readers when written
(bot.i18n.pick); the buttons' payloads are the same for everyone, so a vote means the same
option whichever text it was pressed on."""

from __future__ import annotations

from collections.abc import Sequence

from bot.conversation import Services
from bot.i18n import pick, t
from bot.messages import Choice, Outgoing, Purpose
from storage.models import Poll, PollOption
from storage.polls import CLOSED, Tally


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
    head = t(lang, "poll.reminder" if reminder else "poll.header", id=poll.id)
    lines = [head, pick(lang, poll.question, poll.question_en), ""]
    lines.append(t(lang, "poll.pick_many" if poll.multiple else "poll.pick_one"))
    if poll.anonymous:
        lines.append(t(lang, "poll.is_anonymous"))
    if poll.closes_at:
        lines.append(t(lang, "poll.closes", when=services.format_time(poll.closes_at, lang)))
    return Outgoing(
        text="\n".join(lines),
        choices=tuple(
            Choice(pick(lang, o.label, o.label_en), vote_payload(poll.id, o.id)) for o in options
        ),
        multiple=poll.multiple,
        submit_label=t(lang, "common.submit") if poll.multiple else None,
        purpose=Purpose.NOTICE,
    )


def results_text(poll: Poll, tally: Tally, lang: str) -> str:
    total_votes = sum(o.count for o in tally.options)
    head = "poll.results_final" if poll.status == CLOSED else "poll.results_live"
    lines = [t(lang, head, id=poll.id), pick(lang, poll.question, poll.question_en), ""]
    for o in tally.options:
        pct = round(100 * o.count / total_votes) if total_votes else 0
        bar = "█" * round(pct / 10)
        label = pick(lang, o.label, o.label_en)
        lines.append(f"{o.position}. {label}: {o.count} ({pct}%) {bar}".rstrip())
    lines.append("")
    lines.append(
        t(lang, "poll.participation", count=tally.participants, audience=poll.audience_size)
    )
    return "\n".join(lines)
