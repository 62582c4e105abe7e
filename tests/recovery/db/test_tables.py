"""Rows built as SQLModel objects store what the declarative rows stored."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from recovery.db.engine import Database
from recovery.db.tables import CaseRow

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_a_new_case_row_leaves_the_columns_it_was_not_given_sql_null(database: Database) -> None:
    """SQLModel writes every default it has: None must stay SQL NULL, also in JSON columns."""
    with database.unit_of_work() as session:
        session.add(
            CaseRow(
                id="case-1",
                claimant="alice",
                case_type="wrong_network",
                network="bsc",
                tx_hash="0x" + "1" * 64,
                token="native",
                deposit_address="0x" + "2" * 40,
                refund_address="0x" + "3" * 40,
                status="submitted",
                created_at=AT,
                updated_at=AT,
            )
        )
    unset = ("approvals", "named_log_indexes", "log_indexes", "question", "lease_owner")
    with database.unit_of_work() as session:
        row = session.execute(
            select(*(CaseRow.__table__.c[name].is_(None) for name in unset))
        ).one()
    assert dict(zip(unset, row, strict=True)) == dict.fromkeys(unset, True)
