"""claimed transfers: one live claim per transfer log, several logs per case

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 09:00:00.000000

Replaces the unique indexes on `cases` (one live case per transaction, token and deposit
address; one per log index) with `claimed_transfers`: a row per transfer a case claims,
unique among live claims. Existing cases keep what they held: a verified case its
`log_index`, a native case not yet verified its native marker (-1).
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import recovery.db.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_LIVE = "status NOT IN ('rejected', 'cancelled', 'expired')"
_RELEASED = ("rejected", "cancelled", "expired")
_NATIVE_LOG_INDEX = -1


def upgrade() -> None:
    op.create_table(
        "claimed_transfers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("network", sa.String(length=64), nullable=False),
        sa.Column("tx_hash", sa.String(length=128), nullable=False),
        sa.Column("deposit_address", sa.String(length=128), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("claimed_at", recovery.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("released_at", recovery.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("claimed_transfers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_claimed_transfers_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "uq_claimed_transfers_live",
            ["network", "tx_hash", "deposit_address", "log_index"],
            unique=True,
            sqlite_where=sa.text("released_at IS NULL"),
            postgresql_where=sa.text("released_at IS NULL"),
        )

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("named_log_indexes", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("log_indexes", sa.JSON(), nullable=True))
        batch_op.drop_index(
            "uq_cases_live_transfer",
            sqlite_where=sa.text(_OLD_LIVE),
            postgresql_where=sa.text(_OLD_LIVE),
        )
        batch_op.drop_index(
            "uq_cases_live_log",
            sqlite_where=sa.text(f"{_OLD_LIVE} AND log_index IS NOT NULL"),
            postgresql_where=sa.text(f"{_OLD_LIVE} AND log_index IS NOT NULL"),
        )
        batch_op.create_index("ix_cases_transfer", ["network", "tx_hash"], unique=False)

    _carry_over_claims()


def _carry_over_claims() -> None:
    """Each existing case claims what the old indexes let it hold."""
    connection = op.get_bind()
    cases = sa.table(
        "cases",
        sa.column("id", sa.String()),
        sa.column("network", sa.String()),
        sa.column("tx_hash", sa.String()),
        sa.column("token", sa.String()),
        sa.column("deposit_address", sa.String()),
        sa.column("status", sa.String()),
        sa.column("log_index", sa.Integer()),
        sa.column("log_indexes", sa.JSON()),
        sa.column("created_at", recovery.db.types.UTCDateTime(timezone=True)),
        sa.column("updated_at", recovery.db.types.UTCDateTime(timezone=True)),
    )
    claims = sa.table(
        "claimed_transfers",
        sa.column("case_id", sa.String()),
        sa.column("network", sa.String()),
        sa.column("tx_hash", sa.String()),
        sa.column("deposit_address", sa.String()),
        sa.column("log_index", sa.Integer()),
        sa.column("claimed_at", recovery.db.types.UTCDateTime(timezone=True)),
        sa.column("released_at", recovery.db.types.UTCDateTime(timezone=True)),
    )
    rows = connection.execute(
        sa.select(
            cases.c.id,
            cases.c.network,
            cases.c.tx_hash,
            cases.c.token,
            cases.c.deposit_address,
            cases.c.status,
            cases.c.log_index,
            cases.c.created_at,
            cases.c.updated_at,
        )
    ).all()
    new_claims: list[dict[str, Any]] = []
    covered: list[dict[str, Any]] = []
    for row in rows:
        released = row.status in _RELEASED
        if row.log_index is not None:
            held = [row.log_index]
        elif row.token == "native" and not released:
            held = [_NATIVE_LOG_INDEX]  # held at filing by the old index
        else:
            held = []
        covered.append({"b_id": row.id, "b_log_indexes": held})
        new_claims.extend(
            {
                "case_id": row.id,
                "network": row.network,
                "tx_hash": row.tx_hash,
                "deposit_address": row.deposit_address,
                "log_index": index,
                "claimed_at": row.created_at,
                "released_at": row.updated_at if released else None,
            }
            for index in held
        )
    if covered:
        connection.execute(
            cases.update()
            .where(cases.c.id == sa.bindparam("b_id"))
            .values(log_indexes=sa.bindparam("b_log_indexes")),
            covered,
        )
    if new_claims:
        connection.execute(claims.insert(), new_claims)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_transfer")
        batch_op.create_index(
            "uq_cases_live_log",
            ["network", "tx_hash", "log_index"],
            unique=True,
            sqlite_where=sa.text(f"{_OLD_LIVE} AND log_index IS NOT NULL"),
            postgresql_where=sa.text(f"{_OLD_LIVE} AND log_index IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_cases_live_transfer",
            ["network", "tx_hash", "token", "deposit_address"],
            unique=True,
            sqlite_where=sa.text(_OLD_LIVE),
            postgresql_where=sa.text(_OLD_LIVE),
        )
        batch_op.drop_column("log_indexes")
        batch_op.drop_column("named_log_indexes")
    with op.batch_alter_table("claimed_transfers", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_claimed_transfers_live",
            sqlite_where=sa.text("released_at IS NULL"),
            postgresql_where=sa.text("released_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_claimed_transfers_case_id"))
    op.drop_table("claimed_transfers")
