"""actors fit a whole subject

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08 01:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.alter_column(
            "actor",
            existing_type=sa.VARCHAR(length=128),
            type_=sa.String(length=160),
            existing_nullable=False,
        )

    with op.batch_alter_table("deposit_addresses", schema=None) as batch_op:
        batch_op.alter_column(
            "created_by",
            existing_type=sa.VARCHAR(length=128),
            type_=sa.String(length=160),
            existing_nullable=False,
        )

    with op.batch_alter_table("reviewer_queues", schema=None) as batch_op:
        batch_op.alter_column(
            "added_by",
            existing_type=sa.VARCHAR(length=128),
            type_=sa.String(length=160),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("reviewer_queues", schema=None) as batch_op:
        batch_op.alter_column(
            "added_by",
            existing_type=sa.String(length=160),
            type_=sa.VARCHAR(length=128),
            existing_nullable=False,
        )

    with op.batch_alter_table("deposit_addresses", schema=None) as batch_op:
        batch_op.alter_column(
            "created_by",
            existing_type=sa.String(length=160),
            type_=sa.VARCHAR(length=128),
            existing_nullable=False,
        )

    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.alter_column(
            "actor",
            existing_type=sa.String(length=160),
            type_=sa.VARCHAR(length=128),
            existing_nullable=False,
        )
