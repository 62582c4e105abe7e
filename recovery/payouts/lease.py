"""The lease a payout worker holds on a case, renewed while it works and checked where it signs.

Rule kept here: a worker that lost its lease signs nothing. `hold` is a conditional
UPDATE of the case row: on PostgreSQL it also locks that row until the transaction ends,
so two workers that both believe they hold a case are serialised at the one statement
that decides it; on SQLite the database's write lock does the same.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlmodel import col

from recovery.db.tables import CaseRow


def hold(session: Session, case_id: str, *, owner: str, now: datetime, lease: timedelta) -> bool:
    """Renew `owner`'s lease on the case; False when the lease lapsed or another took it."""
    result = session.execute(
        update(CaseRow)
        .where(
            col(CaseRow.id) == case_id,
            col(CaseRow.lease_owner) == owner,
            col(CaseRow.lease_until) >= now,
        )
        .values(lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


class LeaseLost(Exception):
    """Raised when a worker finds, where it would sign, that its lease on the case is gone."""
