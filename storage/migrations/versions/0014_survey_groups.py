"""survey_responses.groups_sealed: an anonymous response's department and location, sealed
until the survey closes; only then are they written in the clear, and only for groups of 5
or more respondents (bot/usecases/surveys.py, docs/privacy.md)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("survey_responses") as batch:
        batch.add_column(sa.Column("groups_sealed", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("survey_responses") as batch:
        batch.drop_column("groups_sealed")
