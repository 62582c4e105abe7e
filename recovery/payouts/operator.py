"""What an operator does with a payout the engine will not touch again on its own."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from recovery.access.keys import Principal, Role
from recovery.appeals.errors import CaseNotFound
from recovery.appeals.repository import CaseRepository
from recovery.db.tables import LedgerEntryRow, PayoutRow, PayoutTransactionRow
from recovery.domain.case import Case
from recovery.domain.states import CaseStatus
from recovery.errors import InvalidInput

Resolution = Literal["paid", "payout_failed", "retry"]


def resolve(
    session: Session,
    principal: Principal,
    case_id: str,
    *,
    resolution: Resolution,
    note: str,
    now: datetime,
) -> Case:
    """Settle a quarantined or failed payout after looking at the chain.

    - `paid`: a quarantined payout was found on chain; the fee is booked.
    - `payout_failed`: a quarantined payout is known not to have happened.
    - `retry`: a failed payout is sent again as a NEW transaction (a new nonce); its
      earlier transactions are kept as history and are never broadcast again.
    """
    principal.require(Role.ADMIN)
    repository = CaseRepository(session)
    case = repository.get(case_id)
    if case is None:
        raise CaseNotFound(f"no case {case_id}")
    payout = session.scalars(select(PayoutRow).where(PayoutRow.case_id == case.id)).one_or_none()
    if payout is None:
        raise InvalidInput(f"case {case.reference} has no payout to resolve")
    target = {
        "paid": CaseStatus.PAID,
        "payout_failed": CaseStatus.PAYOUT_FAILED,
        "retry": CaseStatus.PAYOUT_PENDING,
    }[resolution]
    case.transition(target, actor=principal.actor, at=now, detail=note)
    if resolution == "retry":
        session.execute(
            update(PayoutTransactionRow)
            .where(
                PayoutTransactionRow.payout_id == payout.id,
                PayoutTransactionRow.kind == "transfer",
            )
            .values(kind="failed_transfer")
        )
        repository.due_now(case.id, now)
    if resolution == "paid":
        session.add(
            LedgerEntryRow(
                case_id=case.id,
                kind="fee",
                network=payout.network,
                token=payout.token,
                amount=payout.fee_amount,
                created_at=now,
            )
        )
    repository.save(case)
    return case
