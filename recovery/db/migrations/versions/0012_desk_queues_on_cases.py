"""desk queues on cases, and reviewers' queues

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import recovery.db.types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reviewer_queues",
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("queue", sa.String(length=32), nullable=False),
        sa.Column("added_by", sa.String(length=128), nullable=False),
        sa.Column("added_at", recovery.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject", "queue"),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("queue", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("priority", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("queued_at", recovery.db.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("escalated_at", recovery.db.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_cases_desk_queue", ["status", "queue", "updated_at", "number"], unique=False
        )
    # Cases already with the desk: their service-level clock starts at their last change
    # (the escalation job routes them to a queue at its first look).
    op.execute("UPDATE cases SET queued_at = updated_at WHERE status = 'in_review'")


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_desk_queue")
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("queued_at")
        batch_op.drop_column("priority")
        batch_op.drop_column("queue")
    op.drop_table("reviewer_queues")
