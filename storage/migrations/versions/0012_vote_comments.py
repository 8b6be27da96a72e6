"""vote comments: a remark typed with a named vote, kept for the OR (never for anonymous polls)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 16:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vote_comments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column(
            "poll_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("polls.id", ondelete="CASCADE"), nullable=False,
        ),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("people.id", ondelete="CASCADE"), nullable=False,
        ),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("poll_id", "person_id"),
    )  # fmt: skip
    op.create_index("ix_vote_comments_poll_id", "vote_comments", ["poll_id"])


def downgrade() -> None:
    op.drop_index("ix_vote_comments_poll_id", table_name="vote_comments")
    op.drop_table("vote_comments")
