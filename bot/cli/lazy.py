"""Sub-commands imported when they are run, not when `achterban` starts.

Importing every sub-app took ~0.3 s of the ~1 s start-up (themes pull in simplemma, the
broadcast and survey commands their use cases, photos Pillow), which counts against
`achterban stats` answering in 2 s (issue 15). `achterban stats` now imports only
bot/cli/stats.py; `achterban --help` still lists (and so imports) them all.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup

# name -> "module:attribute" (and further modules that add commands to it when imported),
# in the order the help lists them.
SUB_APPS: dict[str, tuple[str, ...]] = {
    "roster": ("bot.cli.roster:roster_app",),
    "person": ("bot.cli.roster:person_app",),
    "poll": ("bot.cli.poll:poll_app",),
    "slack": ("bot.cli.slack:slack_app",),
    "teams": ("bot.cli.teams:teams_app",),
    "question": ("bot.cli.question:question_app",),
    "survey": ("bot.cli.survey:survey_app", "bot.cli.survey_report"),
    "report": ("bot.cli.report:report_app",),
    "nominations": ("bot.cli.nominations:nominations_app",),
    "photo": ("bot.cli.photo:photo_app",),
    "broadcast": ("bot.cli.broadcast:broadcast_app",),
    "stats": ("bot.cli.stats:stats_app",),
    "web": ("bot.cli.web:web_app",),
    "admin": ("bot.cli.web:admin_app",),
    "whatsapp": ("bot.cli.whatsapp:whatsapp_app",),
}


def load(name: str) -> typer.Typer:
    """The sub-app behind a command name, its modules imported now."""
    target, *more = SUB_APPS[name]
    module, attribute = target.split(":")
    sub: typer.Typer = getattr(importlib.import_module(module), attribute)
    for extra in more:
        importlib.import_module(extra)
    return sub


class LazyGroup(TyperGroup):
    """The top-level group: knows the sub-apps by name, builds one when it is asked for."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in SUB_APPS if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in SUB_APPS:
            group = typer.main.get_group(load(cmd_name))
            group.name = cmd_name
            self.add_command(group, cmd_name)
        return super().get_command(ctx, cmd_name)
