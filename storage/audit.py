"""Audit log: who did what, never with message bodies or votes."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry


async def audit(
    session: AsyncSession,
    action: str,
    *,
    actor_id: int | None = None,
    subject: str | None = None,
    **details: Any,
) -> None:
    session.add(AuditEntry(action=action, actor_id=actor_id, subject=subject, details=details))
