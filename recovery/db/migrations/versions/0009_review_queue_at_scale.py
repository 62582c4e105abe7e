"""review queue at scale: the verdict's value as a column, keyset indexes for the queue

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 15:45:00
"""

import json
from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal, localcontext

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000


def _micros(verdict: object) -> int | None:
    if isinstance(verdict, str):
        verdict = json.loads(verdict)
    raw = verdict.get("value") if isinstance(verdict, dict) else None
    if raw is None:
        return None
    with localcontext() as context:
        context.prec = 80
        return int((Decimal(str(raw)) * 1_000_000).to_integral_value(rounding=ROUND_FLOOR))


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("value_micros", sa.BigInteger(), nullable=True))
    connection = op.get_bind()
    cases = sa.table("cases", sa.column("number"), sa.column("verdict"), sa.column("value_micros"))
    after = 0
    while True:
        rows = connection.execute(
            sa.select(cases.c.number, cases.c.verdict)
            .where(cases.c.number > after, cases.c.verdict.is_not(None))
            .order_by(cases.c.number)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        values = [
            {"n": number, "v": micros}
            for number, verdict in rows
            if (micros := _micros(verdict)) is not None
        ]
        if values:
            connection.execute(
                cases.update()
                .where(cases.c.number == sa.bindparam("n"))
                .values(value_micros=sa.bindparam("v")),
                values,
            )
        after = rows[-1][0]
    op.create_index("ix_cases_queue", "cases", ["status", "updated_at", "number"])
    op.create_index(
        "ix_cases_queue_network", "cases", ["status", "network", "updated_at", "number"]
    )


def downgrade() -> None:
    op.drop_index("ix_cases_queue_network", table_name="cases")
    op.drop_index("ix_cases_queue", table_name="cases")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("value_micros")
