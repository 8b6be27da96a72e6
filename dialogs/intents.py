"""Free text with no dialog running, acted on as the job it asks for (issue 13).

"ik wil iets onveiligs melden", "ik wil marieke nomineren", "nieuwe peilign", "english
please": bot.understand.intents names the job; this module does it, through the same
handlers the typed commands and buttons use. Where the act matters it confirms first:
opting out of news always asks (and "stop" alone, with nothing to stop, only offers it);
the dialogs it starts (report, nomination, poll) confirm at their own end. Who may do what
is checked here as for the commands: stats and new polls are for OR members, and others get
a clear refusal rather than "Dat begrijp ik niet".

When two jobs fit equally, the bot asks which with buttons (`intent:<name>`), never guesses.
"""

from __future__ import annotations

from bot.conversation import Turn
from bot.messages import Choice
from bot.registry import Registry
from bot.understand.intents import (
    ANSWER,
    CHANGE_VOTE,
    HELP,
    LANGUAGE,
    NEW_POLL,
    NOMINATE,
    OPT_OUT_NEWS,
    REPORT,
    RESULTS,
    STATS,
    AmbiguousIntent,
    Intent,
    intent_names,
    understand_intent,
)
from dialogs.broadcast import collect_reply, unsubscribe
from dialogs.menu import ask_language, require_or, set_language, show_help
from dialogs.nomination import begin_nominating
from dialogs.open_question import answer_typed
from dialogs.poll_commands import list_open_polls
from storage import stats_cache
from storage.broadcast_responses import Responses
from storage.stats import Stats

P = "intent"
NEWS = "news"
SHOWN_STATS = 5


async def act_on_intent(turn: Turn) -> bool:
    """Do the job the free text asks for; False when it asks for none (the caller says it
    did not understand). Text answering a broadcast is kept as a reply first, and the job it
    may also name is only offered with a button: a reply is never lost, nor taken as a
    command by guess."""
    found = understand_intent(turn.text)
    if found is None:
        return False
    if isinstance(found, AmbiguousIntent):
        turn.reply(turn.t("intent.which"), [_choice(turn, name) for name in found.names])
        return True
    # A report or a nomination may name a colleague or what happened: kept as a reply to the
    # news it would stand on the dashboard with the writer's name, so it is never kept; its
    # own dialog starts (and asks for a confirmation at its end).
    kept_as_reply = found.name not in (HELP, ANSWER, REPORT, NOMINATE)
    if kept_as_reply and await collect_reply(turn):
        turn.reply(turn.t("intent.also_reply_kept"), [_choice(turn, found.name, found.arg)])
        return True
    await do_intent(turn, found)
    return True


def _choice(turn: Turn, name: str, arg: str = "") -> Choice:
    """A button for an intent; only arguments that say nothing about a colleague ride along
    (a nominee's name is typed again in the nomination itself)."""
    keep = arg if name in (LANGUAGE, NEW_POLL) else ""
    return Choice(turn.t(f"intent.label_{name}"), f"{P}:{name}:{keep}" if keep else f"{P}:{name}")


async def do_intent(turn: Turn, intent: Intent) -> None:
    """Long dispatch kept flat on purpose: one line per job, the same handlers as the
    commands."""
    name, arg = intent.name, intent.arg
    if name == REPORT:
        await turn.begin("unsafe_report")
    elif name == NOMINATE:
        await begin_nominating(turn, proposed=arg or None)
    elif name == CHANGE_VOTE:
        turn.reply(turn.t("intent.change_vote"))
        await list_open_polls(turn, "")
    elif name == OPT_OUT_NEWS:
        await ask_opt_out(turn)
    elif name == STATS:
        await show_stats(turn)
    elif name == LANGUAGE:
        if arg:
            await set_language(turn, arg)
        else:
            await ask_language(turn, "")
    elif name == NEW_POLL:
        if require_or(turn):
            await turn.begin("poll_create")
            if arg == "anonymous":
                turn.reply(turn.t("intent.anonymous_poll"))
    elif name == RESULTS:
        turn.reply(turn.t("intent.results"))
        await list_open_polls(turn, "")
    elif name == ANSWER and intent.number is not None:
        await answer_typed(turn, intent.number, arg)
    else:
        await show_help(turn, "")


async def ask_opt_out(turn: Turn) -> None:
    """Opting out of news is never done on one word: the person confirms with a button (or by
    typing its label, "ja"). Who is out already is told so at once."""
    if await Responses(turn.services.session).opted_out(turn.person.id):
        turn.reply(turn.t("broadcast.already_unsubscribed"))
        return
    turn.reply(
        turn.t("intent.confirm_opt_out"),
        [
            Choice(turn.t("intent.opt_out_yes"), f"{NEWS}:out"),
            Choice(turn.t("intent.opt_out_no"), f"{NEWS}:keep"),
        ],
    )


async def ask_unsubscribe(turn: Turn, _rest: str) -> None:
    """The 'afmelden' / 'unsubscribe' command: asks first, like the free-text intent."""
    await ask_opt_out(turn)


def nothing_to_stop(turn: Turn) -> None:
    """ "stop" with no dialog running ends nothing and unsubscribes nobody; it offers the
    opt-out with one button, so a colleague who did mean the news reaches it in one tap."""
    turn.reply(turn.t("intent.stop_nothing"), [Choice(turn.t("intent.opt_out_yes"), f"{NEWS}:out")])


async def on_news_button(turn: Turn, payload: str) -> None:
    what = payload.partition(":")[2]
    if what == "out":
        await unsubscribe(turn, "")
    elif what == "keep":
        turn.reply(turn.t("intent.opt_out_kept"))
    else:
        turn.reply(turn.t("common.button_invalid"))


async def on_intent_button(turn: Turn, payload: str) -> None:
    """`intent:<name>[:<arg>]`, from "Wat bedoel je?"."""
    _prefix, _sep, rest = payload.partition(":")
    name, _sep, arg = rest.partition(":")
    # Every intent but a typed answer (which needs its text) may come from a button.
    if name not in intent_names() or name == ANSWER:
        turn.reply(turn.t("common.button_invalid"))
        return
    await do_intent(turn, Intent(name, arg))


async def show_stats(turn: Turn) -> None:
    """Reach and response of the latest items, for OR members (the same figures as
    `achterban stats` and the dashboard, which also hides small groups)."""
    if not turn.is_or_member:
        turn.reply(turn.t("intent.stats_or_only"))
        return
    services = turn.services
    # The whole report, not one since a date: closed items come from the cache then, so a
    # colleague's message does not wait behind a live count of months (issue 15).
    stats = Stats(services.session, services.settings.timezone)
    report = await stats.report(None)
    await stats_cache.keep(services.session, stats.pending)  # a write transaction already
    items = report["items"][-SHOWN_STATS:]
    if not items:
        turn.reply(turn.t("intent.stats_empty"))
        return
    lines = [turn.t("intent.stats_header", count=len(items))]
    for item in items:
        rate = item["response_rate"]
        lines.append(
            turn.t(
                "intent.stats_line",
                kind=turn.t(f"intent.kind_{item['kind']}"),
                id=item["id"],
                title=item["title"],
                responses=item["responses"],
                reach=item["reach"],
                rate="-" if rate is None else f"{rate * 100:.0f}%",
            )
        )
    lines.append(turn.t("intent.stats_more"))
    turn.reply("\n".join(lines))


def register(registry: Registry) -> None:
    registry.command("commands.unsubscribe", ask_unsubscribe, help_key="broadcast.help_unsubscribe")
    registry.action(P, on_intent_button)
    registry.action(NEWS, on_news_button)
