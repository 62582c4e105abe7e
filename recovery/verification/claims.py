"""Claiming cases for a check so that each is worked by one process at a time."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Update, bindparam, or_, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from recovery.appeals.claimed_transfers import sync_claims
from recovery.appeals.repository import MUTABLE_FIELDS, write_events
from recovery.db.tables import CaseRow
from recovery.domain.case import Case
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
    scheduled_only: bool = False,
) -> list[str]:
    """Lease up to `limit` due cases in `statuses` to `owner`; return the ids it got.

    A conditional UPDATE: a case leased by another live process is skipped, a lapsed
    lease (its process crashed or hung) is taken over. Works alike on SQLite and
    PostgreSQL (no SKIP LOCKED needed): of two processes racing for one row, the second
    UPDATE re-reads it after the first commits, finds the lease taken and skips it.
    `networks` limits the claim to those networks (None: every network).
    `scheduled_only` skips cases with no `next_check_at` (for states that are watched only
    until a set time, such as a paid payout until it is final).

    Due means `next_check_at <= now`, never "changed since the last cycle": a case filed
    or left due while no process ran is found by the next one (catch-up after a restart).
    """
    free = or_(col(CaseRow.lease_until).is_(None), col(CaseRow.lease_until) < now)
    due = (
        col(CaseRow.next_check_at) <= now
        if scheduled_only
        else or_(col(CaseRow.next_check_at).is_(None), col(CaseRow.next_check_at) <= now)
    )
    query = select(col(CaseRow.id)).where(
        col(CaseRow.status).in_([s.value for s in statuses]), due, free
    )
    if networks is not None:
        query = query.where(col(CaseRow.network).in_(sorted(networks)))
    candidates = list(
        session.scalars(
            query.order_by(col(CaseRow.next_check_at), col(CaseRow.number)).limit(limit)
        )
    )
    if not candidates:
        return []
    claimed = session.scalars(
        update(CaseRow)
        .where(col(CaseRow.id).in_(candidates), free)
        .values(lease_owner=owner, lease_until=now + lease)
        .returning(col(CaseRow.id))
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
        .where(col(CaseRow.id) == case_id, col(CaseRow.lease_owner) == owner)
        .values(lease_owner=None, lease_until=None, next_check_at=next_check_at)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class WatchProgress:
    """A watched case that stays in its state: its new facts and note (None: unchanged)."""

    case_id: str
    version: int
    facts: dict[str, Any] | None
    check_note: str | None


def record_progress(
    session: Session,
    progress: Sequence[WatchProgress],
    *,
    owner: str,
    next_check_at: datetime,
    retry_at: datetime,
) -> int:
    """Write the progress of many watched cases and give them back; return how many lost.

    Each row is written only at the version it was claimed at (the optimistic lock of
    `CaseRepository.save`): a case a user or another process changed meanwhile keeps
    their change, is counted as lost, and is due again at `retry_at`. No event is
    written: none of these cases changes state.
    """
    changed = [p for p in progress if p.facts is not None]
    if changed:
        # A Core executemany: one statement, many rows, each under its own version check.
        session.connection().execute(
            update(CaseRow)
            .where(
                col(CaseRow.id) == bindparam("b_id"),
                col(CaseRow.version) == bindparam("b_version"),
                col(CaseRow.lease_owner) == owner,
            )
            .values(
                facts=bindparam("b_facts"),
                check_note=bindparam("b_note"),
                version=bindparam("b_version") + 1,
                lease_owner=None,
                lease_until=None,
                next_check_at=next_check_at,
            )
            .execution_options(synchronize_session=False),
            [
                {
                    "b_id": p.case_id,
                    "b_version": p.version,
                    "b_facts": p.facts,
                    "b_note": p.check_note,
                }
                for p in changed
            ],
        )
    unchanged = [p.case_id for p in progress if p.facts is None]
    for chunk in _chunks(unchanged):
        release_many(session, chunk, owner=owner, next_check_at=next_check_at)
    # Whatever is still leased to us lost its optimistic lock above: look again soon.
    lost = 0
    for chunk in _chunks([p.case_id for p in changed]):
        lost += len(release_many(session, chunk, owner=owner, next_check_at=retry_at))
    return lost


def release_many(
    session: Session, case_ids: Sequence[str], *, owner: str, next_check_at: datetime | None
) -> list[str]:
    """Give back those of `case_ids` this owner holds; return their ids."""
    released = session.scalars(
        update(CaseRow)
        .where(col(CaseRow.id).in_(case_ids), col(CaseRow.lease_owner) == owner)
        .values(lease_owner=None, lease_until=None, next_check_at=next_check_at)
        .returning(col(CaseRow.id))
        .execution_options(synchronize_session=False)
    )
    return list(released)


def _save_and_release_statement() -> Update:
    """`CaseRepository.save` and `release` in one statement, with bound parameters.

    Built once: every execution reuses its compiled form.
    """
    return (
        update(CaseRow)
        .where(
            col(CaseRow.id) == bindparam("b_id"),
            col(CaseRow.version) == bindparam("b_version"),
            col(CaseRow.lease_owner) == bindparam("b_owner"),
        )
        .values(
            **{name: bindparam(f"b_{name}") for name in MUTABLE_FIELDS},
            version=bindparam("b_version") + 1,
            last_seq=bindparam("b_last_seq"),
            lease_owner=None,
            lease_until=None,
            next_check_at=bindparam("b_next_check_at"),
        )
        .execution_options(synchronize_session=False)
    )


_SAVE_AND_RELEASE = _save_and_release_statement()


class NotAllWritten(Exception):
    """`save_all_and_release` found a case it may not write; its transaction must not commit."""


def save_all_and_release(
    session: Session, work: Sequence[tuple[Case, datetime | None]], *, owner: str
) -> None:
    """Like `save_and_release`, in one statement for all cases, when every one qualifies.

    Raises `NotAllWritten` when any case was not written (someone changed it, or its
    lease was taken over): what the statement did write is then rolled back with the
    transaction (the unit of work does that on the way out), and the caller can write the
    cases one by one with `save_and_release` to learn which is which. Needs a driver that
    reports the rows an executemany touched (SQLite's and psycopg's do).
    """
    if not work:
        return
    connection = session.connection()
    if not connection.dialect.supports_sane_multi_rowcount:
        raise NotAllWritten("this database driver does not count rows of an executemany")
    result = connection.execute(
        _SAVE_AND_RELEASE,
        [_save_params(case, next_check_at, owner) for case, next_check_at in work],
    )
    if result.rowcount != len(work):
        raise NotAllWritten(f"{result.rowcount} of {len(work)} cases written")
    _write_claims_and_events(session, [case for case, _ in work])


def save_and_release(
    session: Session, work: Sequence[tuple[Case, datetime | None]], *, owner: str
) -> list[Case]:
    """Write many cases, their events, and give them back; return the cases not written.

    Each `(case, next_check_at)` is written as `CaseRepository.save` writes it, at the
    version it was read at (the optimistic lock), and only while `owner` still holds its
    lease; the same statement gives the lease back, due again at `next_check_at`. A case
    someone changed meanwhile, or whose lease lapsed and was taken over, is left exactly as
    it is, its events unwritten, and returned for the caller to look at again. The events
    of the written cases go in one statement. The `Case` objects are not changed.
    """
    connection = session.connection()
    written: list[Case] = []
    lost: list[Case] = []
    for case, next_check_at in work:
        result = connection.execute(_SAVE_AND_RELEASE, _save_params(case, next_check_at, owner))
        (written if result.rowcount == 1 else lost).append(case)
    _write_claims_and_events(session, written)
    return lost


def _save_params(case: Case, next_check_at: datetime | None, owner: str) -> dict[str, Any]:
    values: dict[str, Any] = {f"b_{name}": getattr(case, name) for name in MUTABLE_FIELDS}
    values["b_status"] = case.status.value
    values["b_log_indexes"] = list(case.log_indexes)
    values.update(
        b_id=case.id,
        b_version=case.version,
        b_owner=owner,
        b_last_seq=case.last_seq,
        b_next_check_at=next_check_at,
    )
    return values


def _write_claims_and_events(session: Session, cases: Sequence[Case]) -> None:
    # A transfer another live case holds raises IntegrityError: nothing of it commits.
    sync_claims(session.connection(), [case for case in cases if case.pending_events])
    write_events(session, cases)


def _chunks(ids: Sequence[str], size: int = 1000) -> list[Sequence[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]
