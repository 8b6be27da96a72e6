"""One module per job. Importing the package registers every dialog and button action."""

from dialogs import menu, poll, poll_create

__all__ = ["menu", "poll", "poll_create"]
