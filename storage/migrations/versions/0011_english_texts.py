"""english texts: what English-speaking colleagues read of a poll, its options, an open
question or a broadcast, when the author wrote it (all optional; NULL means the Dutch text)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("polls", "question_en", sa.Text()),
    ("poll_options", "label_en", sa.String(length=200)),
    ("poll_schedules", "question_en", sa.Text()),
    ("poll_schedules", "options_en", sa.JSON()),
    ("open_questions", "text_en", sa.Text()),
    ("broadcasts", "text_en", sa.Text()),
)


def upgrade() -> None:
    for table, column, kind in COLUMNS:
        op.add_column(table, sa.Column(column, kind, nullable=True))


def downgrade() -> None:
    for table, column, _kind in reversed(COLUMNS):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
