"""One module per job. Importing the package registers every dialog, command and action."""

from dialogs import menu, poll, poll_commands, poll_create

__all__ = ["menu", "poll", "poll_commands", "poll_create"]
