"""ix_outbox_about: the outbox rows that asked about one poll, question or campaign, so that
`achterban stats` counts a newly closed (or still open) item from its own rows instead of
reading the whole outbox (1,000,000 rows: a 1.4-1.8 s sequential scan per report, issue 15).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 18:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ABOUT = sa.text("about_kind IS NOT NULL")


def upgrade() -> None:
    # On a large outbox, build it beforehand with CREATE INDEX CONCURRENTLY under this name;
    # then this step finds it there.
    op.create_index(
        "ix_outbox_about",
        "outbox",
        ["about_kind", "about_id"],
        unique=False,
        postgresql_where=ABOUT,
        sqlite_where=ABOUT,
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_about", table_name="outbox")
