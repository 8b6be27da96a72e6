"""Delivery workers that are alive: one row per running worker, beaten every few seconds.

A worker writes its id into every outbox row it claims (`outbox.claimed_by`). When its beat
stops (SIGKILL, power loss, a partition), any other worker releases those rows after a few
missed beats instead of one lease (storage/workers.py, docs/delivery.md). No personal data:
an id, the host and the process id, for operations.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.model_base import Base, UTCDateTime, utcnow


class DeliveryWorkerRow(Base):
    __tablename__ = "delivery_workers"

    # Random per process start (uuid4 hex): a restarted worker is a new one.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
