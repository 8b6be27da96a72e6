"""Periodic jobs of the dialog modules (reminders, expiries, campaign closing).

Each job module registers a function here; the scheduler tick runs every registered job in its
own transaction. A job must be safe to run in several processes at once (use conditional
updates, as the poll jobs do) and return how many things it did.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from dialogs.base import Services

PeriodicJob = Callable[[Services], Awaitable[int]]

PERIODIC: dict[str, PeriodicJob] = {}


def periodic(name: str) -> Callable[[PeriodicJob], PeriodicJob]:
    def deco(fn: PeriodicJob) -> PeriodicJob:
        PERIODIC[name] = fn
        return fn

    return deco
