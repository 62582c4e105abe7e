"""Claiming cases for a check so that each is worked by one process at a time."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from recovery.db.tables import CaseRow
from recovery.domain.states import CaseStatus


def claim_due(
    session: Session,
    *,
    statuses: Sequence[CaseStatus],
    owner: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    networks: Collection[str] | None = None,
) -> list[str]:
    """Lease up to `limit` due cases in `statuses` to `owner`; return the ids it got.

    A conditional UPDATE: a case leased by another live process is skipped, a lapsed
    lease (its process crashed or hung) is taken over. Works alike on SQLite and
    PostgreSQL (no SKIP LOCKED needed): of two processes racing for one row, the second
    UPDATE re-reads it after the first commits, finds the lease taken and skips it.
    `networks` limits the claim to those networks (None: every network).

    Due means `next_check_at <= now`, never "changed since the last cycle": a case filed
    or left due while no process ran is found by the next one (catch-up after a restart).
    """
    free = or_(CaseRow.lease_until.is_(None), CaseRow.lease_until < now)
    due = or_(CaseRow.next_check_at.is_(None), CaseRow.next_check_at <= now)
    query = select(CaseRow.id).where(CaseRow.status.in_([s.value for s in statuses]), due, free)
    if networks is not None:
        query = query.where(CaseRow.network.in_(sorted(networks)))
    candidates = list(
        session.scalars(query.order_by(CaseRow.next_check_at, CaseRow.number).limit(limit))
    )
    if not candidates:
        return []
    claimed = session.scalars(
        update(CaseRow)
        .where(CaseRow.id.in_(candidates), free)
        .values(lease_owner=owner, lease_until=now + lease)
        .returning(CaseRow.id)
        .execution_options(synchronize_session=False)
    )
    return list(claimed)


def release(session: Session, case_id: str, *, owner: str, next_check_at: datetime | None) -> None:
    """Give a case back, due again at `next_check_at` (None: no automatic check).

    Only the lease holder releases: a process whose lease lapsed and was taken over
    leaves the new holder's claim alone.
    """
    session.execute(
        update(CaseRow)
        .where(CaseRow.id == case_id, CaseRow.lease_owner == owner)
        .values(lease_owner=None, lease_until=None, next_check_at=next_check_at)
        .execution_options(synchronize_session=False)
    )
