"""case verification codes

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 01:05:00
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The alphabet of recovery.appeals.service.new_verification_code (no look-alikes).
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verification_code", sa.String(length=16), nullable=True))
    # Every existing case gets a code of its own, as new ones do at filing.
    bind = op.get_bind()
    cases = sa.table("cases", sa.column("id", sa.String), sa.column("verification_code", sa.String))
    ids = [row[0] for row in bind.execute(sa.select(cases.c.id))]
    update = (
        cases.update()
        .where(cases.c.id == sa.bindparam("b_id"))
        .values(verification_code=sa.bindparam("b_code"))
    )
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        codes = ["".join(secrets.choice(_ALPHABET) for _ in range(10)) for _ in chunk]
        bind.execute(update, [{"b_id": i, "b_code": c} for i, c in zip(chunk, codes, strict=True)])


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("verification_code")
