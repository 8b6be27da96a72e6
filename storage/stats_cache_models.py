"""Cached figures of closed items for `achterban stats` (storage/stats_cache.py).

Counts per group of one dimension only (storage.stats.margins): a row has exactly one of
channel, department and location set, the group it counts (a missing value as "(unknown)"),
the same numbers the report shows before small groups are merged; an item with no figures
has one row with none set. No row names a person.
"""

from __future__ import annotations

from sqlalchemy import Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.model_base import Base, Id
from storage.models import OutboxMessage

# The outbox rows that asked about an item (migration 0018): `achterban stats` counts a newly
# closed or open item from these instead of reading the whole outbox (storage/stats_sql.py).
ABOUT_SQL = text("about_kind IS NOT NULL")
Index(
    "ix_outbox_about",
    OutboxMessage.about_kind,
    OutboxMessage.about_id,
    postgresql_where=ABOUT_SQL,
    sqlite_where=ABOUT_SQL,
)


class StatsCell(Base):
    __tablename__ = "stats_cache"
    __table_args__ = (Index("ix_stats_cache_item", "kind", "item"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    item: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str | None] = mapped_column(String(16))
    department: Mapped[str | None] = mapped_column(String(120))
    location: Mapped[str | None] = mapped_column(String(120))
    reach: Mapped[int] = mapped_column(Integer)
    responses: Mapped[int] = mapped_column(Integer)
    # What the figures depended on besides the item's own rows (storage/stats_cache.py, stamp):
    # a row whose stamp differs from the current one is stale.
    stamp: Mapped[str] = mapped_column(String(64))
    # One store of one item's cells: two reports storing the same item at once each write a
    # batch; readers take one batch per item, so nothing is counted twice.
    batch: Mapped[str] = mapped_column(String(32))
