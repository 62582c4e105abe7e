"""Expiring quotes nobody accepted and questions nobody answered, at their deadlines."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlmodel import col

from recovery.appeals.repository import CaseRepository
from recovery.db.engine import Database
from recovery.db.tables import CaseRow
from recovery.domain.errors import StaleCase
from recovery.domain.states import CaseStatus

log = logging.getLogger(__name__)
SYSTEM = "system:expiry"


def expire_cycle(database: Database, clock: Callable[[], datetime], limit: int = 1000) -> int:
    """Move every quoted or needs_info case past its deadline to `expired`; return how many."""
    now = clock()
    with database.unit_of_work() as session:
        ids = list(
            session.scalars(
                select(col(CaseRow.id))
                .where(
                    col(CaseRow.status).in_([CaseStatus.QUOTED.value, CaseStatus.NEEDS_INFO.value]),
                    col(CaseRow.deadline_at).is_not(None),
                    col(CaseRow.deadline_at) <= now,
                )
                .limit(limit)
            )
        )
    expired = 0
    for case_id in ids:
        try:
            with database.unit_of_work() as session:
                repository = CaseRepository(session)
                case = repository.get(case_id)
                if case is None or case.deadline_at is None or case.deadline_at > now:
                    continue
                if case.status == CaseStatus.QUOTED:
                    reason, detail = "quote_expired", f"quote {case.quote_id} was not accepted"
                elif case.status == CaseStatus.NEEDS_INFO:
                    reason, detail = "info_expired", "the question was not answered in time"
                    case.quote_id = None
                else:
                    continue
                case.transition(
                    CaseStatus.EXPIRED, actor=SYSTEM, at=now, reason_code=reason, detail=detail
                )
                repository.save(case)
                expired += 1
        except StaleCase:
            continue  # the user acted at the same moment; their action stands
        except Exception:
            log.exception("expiring case %s failed", case_id)
    return expired
