"""Writing down what the chain showed of a payout: delivered (paid) or not.

Shared by the engine and by operators' decisions, so that "paid" is recorded one way:
the delivered amount, the event that says what arrived in which transaction, the fee
and the gas booked in the ledger.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session
from sqlmodel import col

from recovery.appeals.repository import CaseRepository
from recovery.db.tables import LedgerEntryRow, PayoutRow
from recovery.domain.case import NATIVE, Case
from recovery.domain.reasons import ReasonCode
from recovery.domain.states import CaseStatus
from recovery.payouts.delivery import Delivery


def record_paid(
    session: Session,
    case_id: str,
    payout: PayoutRow,
    delivery: Delivery,
    *,
    gas_spent: int,
    actor: str,
    now: datetime,
    note: str = "",
) -> Case:
    """Move the case to `paid` with what arrived; book the fee and the gas."""
    repository = CaseRepository(session)
    case = repository.get(case_id)
    assert case is not None
    short = delivery.amount < payout.amount
    detail = delivery.describe(payout)
    if short:
        detail += (
            f"; {payout.amount - delivery.amount} base units less than the {payout.amount} "
            "approved (the token kept them)"
        )
    if note:
        detail += f"; {note}"
    case.transition(
        CaseStatus.PAID,
        actor=actor,
        at=now,
        reason_code=ReasonCode.PAYOUT_SHORTFALL if short else None,
        detail=detail,
    )
    case.check_note = None
    case.facts = {
        **(case.facts or {}),
        "payout": {
            "tx_hash": delivery.tx_hash,
            "block_number": delivery.block_number,
            "amount": str(payout.amount),
            "delivered_amount": str(delivery.amount),
            "shortfall": str(payout.amount - delivery.amount),
            "final": False,
        },
    }
    repository.save(case)
    row = session.get(PayoutRow, payout.id)
    assert row is not None
    row.delivered_amount = delivery.amount
    row.delivered_tx = delivery.tx_hash
    row.delivered_block = delivery.block_number
    row.delivered_block_hash = delivery.block_hash
    row.final_at = None
    book(session, case_id, payout, "fee", payout.token, payout.fee_amount, now)
    book(session, case_id, payout, "gas", NATIVE, gas_spent, now)
    return case


def book(
    session: Session,
    case_id: str,
    payout: PayoutRow,
    kind: str,
    token: str,
    amount: int,
    now: datetime,
) -> None:
    """Write one ledger entry of the case, replacing an earlier one of the same kind."""
    session.execute(
        delete(LedgerEntryRow).where(
            col(LedgerEntryRow.case_id) == case_id, col(LedgerEntryRow.kind) == kind
        )
    )
    session.add(
        LedgerEntryRow(
            case_id=case_id,
            kind=kind,
            network=payout.network,
            token=token,
            amount=amount,
            created_at=now,
        )
    )
