"""Public outcomes: per network and case type, appeals filed, paid and rejected (by reason
code), and the time from filing to paid, over the last 30 and 365 days.

Paid counts delivered payouts only (a case is `paid` when the chain shows the value at
the refund address). Read in one transaction; a process keeps the answer for a minute, so
public traffic costs the database one read a minute however often it asks.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from recovery.db.engine import Database
from recovery.db.tables import CaseEventRow, CaseRow
from recovery.domain.states import CaseStatus

WINDOWS = (30, 365)
CACHE_SECONDS = 60.0


def outcomes(session: Session, now: datetime) -> dict[str, Any]:
    """The outcome figures of every window, newest data as of `now`."""
    return {
        "generated_at": now,
        "windows": [_window(session, now, days) for days in WINDOWS],
    }


def _window(session: Session, now: datetime, days: int) -> dict[str, Any]:
    since = now - timedelta(days=days)
    groups: dict[tuple[str, str], dict[str, Any]] = {}

    def group(network: str, case_type: str) -> dict[str, Any]:
        key = (network, case_type)
        if key not in groups:
            groups[key] = {
                "network": network,
                "case_type": case_type,
                "filed": 0,
                "paid": 0,
                "rejected": {},
                "_durations": [],
            }
        return groups[key]

    for network, case_type, count in session.execute(
        select(col(CaseRow.network), col(CaseRow.case_type), func.count())
        .where(col(CaseRow.created_at) >= since)
        .group_by(col(CaseRow.network), col(CaseRow.case_type))
    ):
        group(network, case_type)["filed"] = int(count)
    paid_at: dict[str, tuple[str, str, datetime, datetime]] = {}
    for case_id, network, case_type, filed_at, at in session.execute(
        select(
            col(CaseRow.id),
            col(CaseRow.network),
            col(CaseRow.case_type),
            col(CaseRow.created_at),
            col(CaseEventRow.created_at),
        )
        .join(CaseEventRow, col(CaseEventRow.case_id) == col(CaseRow.id))
        .where(
            col(CaseEventRow.to_status) == CaseStatus.PAID.value,
            col(CaseEventRow.created_at) >= since,
        )
    ):
        # A payout reorged out and paid again counts once, at its first arrival.
        if case_id not in paid_at or at < paid_at[case_id][3]:
            paid_at[case_id] = (network, case_type, filed_at, at)
    for network, case_type, filed_at, at in paid_at.values():
        entry = group(network, case_type)
        entry["paid"] += 1
        entry["_durations"].append((at - filed_at).total_seconds())
    for network, case_type, reason, count in session.execute(
        select(
            col(CaseRow.network),
            col(CaseRow.case_type),
            col(CaseEventRow.reason_code),
            func.count(),
        )
        .join(CaseEventRow, col(CaseEventRow.case_id) == col(CaseRow.id))
        .where(
            col(CaseEventRow.to_status) == CaseStatus.REJECTED.value,
            col(CaseEventRow.created_at) >= since,
        )
        .group_by(col(CaseRow.network), col(CaseRow.case_type), col(CaseEventRow.reason_code))
    ):
        group(network, case_type)["rejected"][str(reason or "unknown")] = int(count)
    rows = []
    for key in sorted(groups):
        entry = groups[key]
        durations = sorted(entry.pop("_durations"))
        entry["median_seconds_to_paid"] = statistics.median(durations) if durations else None
        entry["p90_seconds_to_paid"] = _p90(durations)
        rows.append(entry)
    return {"days": days, "since": since, "groups": rows}


def _p90(durations: list[float]) -> float | None:
    if not durations:
        return None
    if len(durations) == 1:
        return durations[0]
    return statistics.quantiles(durations, n=10, method="inclusive")[-1]


class CachedOutcomes:
    """The figures, read at most once a minute per process."""

    def __init__(self, database: Database, clock: Callable[[], datetime]) -> None:
        self.database = database
        self.clock = clock
        self._lock = threading.Lock()
        self._kept: tuple[float, dict[str, Any]] | None = None

    def read(self) -> dict[str, Any]:
        """The figures, from the last minute's read or a new one."""
        with self._lock:
            if self._kept is not None and time.monotonic() - self._kept[0] < CACHE_SECONDS:
                return self._kept[1]
        with self.database.unit_of_work() as session:
            figures = outcomes(session, self.clock())
        with self._lock:
            self._kept = (time.monotonic(), figures)
        return figures
