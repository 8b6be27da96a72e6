"""Use cases: one module per job, each holding the commands that change that job's state
(create, open, close, vote, answer, moderate, send). A command validates its input, writes,
audits and queues messages in the caller's transaction (`Services`), and raises `Refused` with
a catalogue key when the input breaks a rule. Chat dialogs, dashboard views and CLI commands
are thin callers of the same command, so a rule tested once holds on every path.

Use cases belong to the core: they import storage and bot, never dialogs, adapters or web
pages (tests/test_architecture.py).
"""

from __future__ import annotations

from bot.errors import UserError


class Refused(UserError):
    """A command's input breaks one of its rules; `key` names the catalogue text that says
    which, in the caller's language (chat reply, form error, CLI message)."""
