"""report photo redactions: the rectangles a moderator set for a report photo

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 03:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "report_photo_redactions",
        sa.Column("photo_id", ID, nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["photo_id"],
            ["report_photos.id"],
            name=op.f("fk_report_photo_redactions_photo_id_report_photos"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["people.id"],
            name=op.f("fk_report_photo_redactions_updated_by_people"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("photo_id", name=op.f("pk_report_photo_redactions")),
    )


def downgrade() -> None:
    op.drop_table("report_photo_redactions")
