"""found deposits and discovery checkpoints

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import recovery.db.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "discovery_checkpoints",
        sa.Column("network", sa.String(length=64), nullable=False),
        sa.Column("first_block", sa.BigInteger(), nullable=False),
        sa.Column("next_block", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=128), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", recovery.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", recovery.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("network"),
    )
    op.create_table(
        "found_deposits",
        sa.Column("number", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("network", sa.String(length=64), nullable=False),
        sa.Column("tx_hash", sa.String(length=128), nullable=False),
        sa.Column("deposit_address", sa.String(length=128), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("opened_for", sa.String(length=64), nullable=True),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("token", sa.String(length=128), nullable=False),
        sa.Column("sender", sa.String(length=128), nullable=False),
        sa.Column("amount", recovery.db.types.Amount(length=80), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=128), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("verdict", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=True),
        sa.Column("found_at", recovery.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", recovery.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("number"),
        sa.UniqueConstraint("id"),
        sa.UniqueConstraint(
            "network", "tx_hash", "deposit_address", "log_index", name="uq_found_deposits_transfer"
        ),
    )
    with op.batch_alter_table("found_deposits", schema=None) as batch_op:
        batch_op.create_index(
            "ix_found_deposits_network_block", ["network", "block_number"], unique=False
        )
        batch_op.create_index("ix_found_deposits_owner_number", ["owner", "number"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("found_deposits", schema=None) as batch_op:
        batch_op.drop_index("ix_found_deposits_owner_number")
        batch_op.drop_index("ix_found_deposits_network_block")

    op.drop_table("found_deposits")
    op.drop_table("discovery_checkpoints")
