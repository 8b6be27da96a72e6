"""Calling a use case in a test: one command in its own transaction, as a dialog, view or
CLI command would, and its refusal when a rule is broken."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from bot.conversation import Services
from bot.engine import Engine
from bot.usecases import Refused

T = TypeVar("T")


async def run(engine: Engine, command: Callable[[Services], Awaitable[T]]) -> T:
    """`command` in one transaction, committed when it returns."""
    async with engine.db.transaction() as session:
        return await command(engine.services(session))


async def refusal(engine: Engine, command: Callable[[Services], Awaitable[object]]) -> Refused:
    """The Refused that `command` raises (the test fails when it raises none)."""
    with pytest.raises(Refused) as refused:
        await run(engine, command)
    return refused.value
