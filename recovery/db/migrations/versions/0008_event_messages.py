"""event messages: what the claimant reads, apart from the staff's detail

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 15:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message", sa.Text(), nullable=True))
    # Rejection notes and questions were always written for the claimant.
    op.execute(
        "UPDATE case_events SET message = detail "
        "WHERE to_status IN ('rejected', 'needs_info') "
        "AND actor NOT LIKE 'system:%' AND actor NOT LIKE 'user:%'"
    )


def downgrade() -> None:
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.drop_column("message")
