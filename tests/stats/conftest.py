"""The stats tests' engine, with a clock they move (tests/support/broadcasts.py), and their
organisation of 16 people."""

from __future__ import annotations

import pytest

from bot.app import new_engine
from bot.config import Settings
from bot.engine import Engine
from storage.db import Database
from tests.support.broadcasts import Clock
from tests.support.org import Org


@pytest.fixture
def engine(db: Database, settings: Settings) -> Engine:
    return new_engine(db, settings, clock=Clock())


@pytest.fixture
async def big(engine: Engine) -> Org:
    """16 people: Kantoor 2, Productie 7, Logistiek 7; Tilburg 8, Eindhoven 8."""
    return await Org.create(engine, employees=14)
