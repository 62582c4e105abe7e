"""payout guarantees: one nonce per payout, delivered amounts, finality, top-up tracking

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import recovery.db.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("nonce", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("delivered_amount", recovery.db.types.Amount(length=80), nullable=True)
        )
        batch_op.add_column(sa.Column("delivered_tx", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("delivered_block", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("delivered_block_hash", sa.String(length=80), nullable=True))
        batch_op.add_column(
            sa.Column("final_at", recovery.db.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("retry_requested_by", sa.String(length=128), nullable=True))
        batch_op.add_column(
            sa.Column("orphaned_at", recovery.db.types.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("payout_transactions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("broadcast_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("recipient", sa.String(length=128), nullable=True))
        batch_op.add_column(
            sa.Column("state", sa.String(length=16), nullable=False, server_default="pending")
        )
    # Payouts signed before this migration keep the nonce their transfers carry.
    op.execute(
        "UPDATE payouts SET nonce = (SELECT MIN(t.nonce) FROM payout_transactions t "
        "WHERE t.payout_id = payouts.id AND t.kind = 'transfer')"
    )
    # Top-ups of payouts already under way count as mined: their cases moved on.
    op.execute(
        "UPDATE payout_transactions SET state = 'mined' WHERE kind = 'gas_topup' AND "
        "payout_id IN (SELECT p.id FROM payouts p JOIN cases c ON c.id = p.case_id "
        "WHERE c.status NOT IN ('approved', 'payout_pending'))"
    )


def downgrade() -> None:
    with op.batch_alter_table("payout_transactions", schema=None) as batch_op:
        batch_op.drop_column("state")
        batch_op.drop_column("recipient")
        batch_op.drop_column("broadcast_error")
    with op.batch_alter_table("payouts", schema=None) as batch_op:
        batch_op.drop_column("orphaned_at")
        batch_op.drop_column("retry_requested_by")
        batch_op.drop_column("final_at")
        batch_op.drop_column("delivered_block_hash")
        batch_op.drop_column("delivered_block")
        batch_op.drop_column("delivered_tx")
        batch_op.drop_column("delivered_amount")
        batch_op.drop_column("nonce")
