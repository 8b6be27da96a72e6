"""Capture what `serve` would log: the real handler of bot/logs.py, writing to a StringIO."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from bot.logs import LOGGER_FLOORS, setup_logging


@contextmanager
def captured_logs(level: str = "INFO", *, secret: str | None = None) -> Iterator[io.StringIO]:
    """Everything logged in the block, as `setup_logging` formats and filters it in
    production; the root logger and the SDK loggers' levels are restored afterwards."""
    root = logging.getLogger()
    handlers, root_level = root.handlers[:], root.level
    floors = {name: logging.getLogger(name).level for name in LOGGER_FLOORS}
    stream = io.StringIO()
    setup_logging(level, stream=stream, secret=secret)
    try:
        yield stream
    finally:
        root.handlers[:] = handlers
        root.setLevel(root_level)
        for name, saved in floors.items():
            logging.getLogger(name).setLevel(saved)
