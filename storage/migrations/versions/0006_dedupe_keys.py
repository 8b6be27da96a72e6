"""inbound_events keeps a keyed hash of each platform event id, never the id itself;
anonymous nominations keep a keyed hash of their nominator, never the nominator; anonymous
rows get a `resealed` flag for the job that rewrites them (storage/reseal.py)

A Slack button press's id named the user and the button, so the register could tell how
someone voted in an anonymous poll. The old rows are only a guard against platform retries
of the last minutes, so the table is recreated empty rather than converted.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _create(key_column: str, length: int) -> None:
    op.create_table(
        "inbound_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column(key_column, sa.String(length=length), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_events")),
        sa.UniqueConstraint("channel", key_column, name=op.f("uq_inbound_events_channel")),
    )
    op.create_index(
        op.f("ix_inbound_events_received_at"), "inbound_events", ["received_at"], unique=False
    )


def _drop() -> None:
    op.drop_index(op.f("ix_inbound_events_received_at"), table_name="inbound_events")
    op.drop_table("inbound_events")


RESEALED = ("open_answers", "reports", "report_photos", "report_notes", "nominations")


def upgrade() -> None:
    _drop()
    _create("event_key", 64)
    for table in RESEALED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("resealed", sa.Boolean(), server_default=sa.false(), nullable=False)
            )
    with op.batch_alter_table("nominations") as batch:
        batch.add_column(sa.Column("nominator_key", sa.String(length=64), nullable=True))
        batch.create_unique_constraint(
            "uq_nominations_campaign_id_nominator_key",
            ["campaign_id", "nominator_key", "nominee_id"],
        )


def downgrade() -> None:
    for table in RESEALED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("resealed")
    with op.batch_alter_table("nominations") as batch:
        batch.drop_constraint("uq_nominations_campaign_id_nominator_key", type_="unique")
        batch.drop_column("nominator_key")
    _drop()
    _create("event_id", 255)
