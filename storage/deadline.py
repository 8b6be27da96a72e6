"""When a poll, question or nomination round takes answers: the one rule every vote, answer
and nomination is checked against in storage, so that no path (button, typed answer, web
chat) counts one after the deadline, whether or not the scheduler has closed it yet.

`now` is always the engine's clock (Services.now), never the wall clock: an event is judged
by the time it was handled, and tests set the clock.
"""

from __future__ import annotations

from datetime import datetime

OPEN = "open"


def accepts(status: str, closes_at: datetime | None, now: datetime) -> bool:
    """Open, and its closing time (if any) not reached: the closing time itself is too late."""
    return status == OPEN and (closes_at is None or now < closes_at)


def closed_since(closes_at: datetime | None, closed_at: datetime | None) -> datetime | None:
    """When it stopped taking answers: the deadline, or an earlier closing by hand; None when
    neither is known (closed by hand before closing times were recorded)."""
    times = [t for t in (closes_at, closed_at) if t is not None]
    return min(times) if times else None
