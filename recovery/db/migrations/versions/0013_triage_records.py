"""triage records

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 00:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import recovery.db.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "triage_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", recovery.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("case_type", sa.String(length=32), nullable=True),
        sa.Column("network", sa.String(length=64), nullable=True),
        sa.Column("opened_for", sa.String(length=64), nullable=True),
        sa.Column("token", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("triage_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_triage_records_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("triage_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_triage_records_created_at"))

    op.drop_table("triage_records")
