"""followups: "Wat doet de OR ermee?", a broadcast tied to the poll, question or survey it
answers, with the results per language (storage/followup_models.py)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 15:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "followups",
        sa.Column("broadcast_id", ID, nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["broadcasts.id"],
            name=op.f("fk_followups_broadcast_id_broadcasts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("broadcast_id", name=op.f("pk_followups")),
        sa.UniqueConstraint("subject_kind", "subject_id", name=op.f("uq_followups_subject_kind")),
    )


def downgrade() -> None:
    op.drop_table("followups")
