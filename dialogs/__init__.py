"""One module per job. Importing the package registers every dialog, command and action."""

from dialogs import (
    broadcast,
    broadcast_create,
    broadcast_manage,
    dashboard,
    menu,
    nomination,
    nomination_campaign,
    open_question,
    poll,
    poll_commands,
    poll_create,
    question_create,
    report_jobs,
    report_moderation,
    retention,
    unsafe_report,
)

__all__ = [
    "broadcast",
    "broadcast_create",
    "broadcast_manage",
    "dashboard",
    "menu",
    "nomination",
    "nomination_campaign",
    "open_question",
    "poll",
    "poll_commands",
    "poll_create",
    "question_create",
    "report_jobs",
    "report_moderation",
    "retention",
    "unsafe_report",
]
