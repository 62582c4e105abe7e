"""What an operator does with a payout the engine will not touch again on its own.

Rules kept here:
- Only `quarantined` and `payout_failed` payouts are settled by a person; a payout the
  engine still tracks (`payout_sent`, `payout_pending`) is refused, whatever its age.
- A person's word alone never marks a payout paid or failed: `paid` needs one of our
  transactions mined, canonical and with an effect at the refund address; `payout_failed`
  needs one of ours mined and failed (or without effect), or the payout's nonce consumed
  by a transaction that is not ours, judged on complete evidence.
- `retry` re-broadcasts the same signed transaction while its nonce is unused (it can
  only land once). A NEW transaction with a new nonce is made only once the old nonce is
  consumed on chain without delivering, and only when a second, different admin
  confirms the first one's request (four-eyes). Every action is an event with its author.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from chains.errors import ChainError
from chains.evm.adapter import EvmAdapter
from chains.evm.payout import Receipt
from recovery.access.case_rules import CaseAction, authorize
from recovery.access.keys import Principal
from recovery.appeals.errors import CaseNotFound
from recovery.appeals.repository import CaseRepository
from recovery.db.tables import PayoutRow, PayoutTransactionRow
from recovery.domain.case import Case
from recovery.domain.errors import InvalidTransition
from recovery.domain.reasons import ReasonCode
from recovery.domain.states import CaseStatus
from recovery.errors import Conflict, InvalidInput, RecoveryError
from recovery.payouts.delivery import measure
from recovery.payouts.evidence import Witnesses, canonical_receipts
from recovery.payouts.settle import record_paid

Resolution = Literal["paid", "payout_failed", "retry"]
SETTLEABLE = (CaseStatus.QUARANTINED, CaseStatus.PAYOUT_FAILED)


class NoChainEvidence(Conflict):
    """Raised when an operator's decision is not borne out by what the chain shows."""

    reason_code = "no_chain_evidence"


class ChainUnreadable(RecoveryError):
    """Raised when the chain cannot be read to check an operator's decision."""

    status_code = 503
    reason_code = "chain_unavailable"


@dataclass(frozen=True)
class Evidence:
    """What the chain shows of a payout's transactions and its nonce."""

    success: Receipt | None
    failed: Receipt | None
    nonce_used: bool | None  # None: not every endpoint answered
    ours_known: bool | None
    # The payout's nonce is used for good: counted at the final block on every endpoint.
    nonce_final: bool = False

    @property
    def consumed_by_others(self) -> bool:
        """The nonce is used, by a transaction that is not ours (complete evidence)."""
        return (
            self.success is None
            and self.failed is None
            and self.nonce_used is True
            and self.ours_known is False
        )


def read_evidence(
    adapter: EvmAdapter, payout: PayoutRow, candidates: list[PayoutTransactionRow]
) -> Evidence:
    """Receipts of our candidates (canonical only) and whether the payout's nonce is used."""
    hashes = [c.tx_hash for c in candidates]
    success, failed = canonical_receipts(adapter, hashes)
    nonce_used: bool | None = None
    ours_known: bool | None = None
    nonce_final = False
    if payout.nonce is not None:
        witnesses = Witnesses(adapter)
        try:
            nonces = witnesses.nonces(payout.source)
            if nonces.complete:
                # Used only when every endpoint counts past it (the lowest, not the highest).
                nonce_used = nonces.lowest_latest > payout.nonce
                nonce_final = nonces.lowest_final > payout.nonce
            ours_known = witnesses.knows_any(hashes) if hashes else False
        finally:
            witnesses.close()
    return Evidence(success, failed, nonce_used, ours_known, nonce_final)


def resolve(
    session: Session,
    principal: Principal,
    case_id: str,
    *,
    resolution: Resolution,
    note: str,
    now: datetime,
    adapters: Mapping[str, EvmAdapter],
) -> Case:
    """Settle a quarantined or failed payout on the chain's evidence (see the module)."""
    repository = CaseRepository(session)
    case = repository.get(case_id)
    if case is None:
        raise CaseNotFound(f"no case {case_id}")
    authorize(principal, CaseAction.RESOLVE_PAYOUT, case)
    if case.status not in SETTLEABLE:
        raise InvalidTransition(
            f"case {case.reference} is {case.status}; operators settle only quarantined or "
            "payout_failed payouts (the engine is still tracking this one, or it is done)"
        )
    payout = session.scalars(
        select(PayoutRow).where(col(PayoutRow.case_id) == case.id)
    ).one_or_none()
    if payout is None:
        raise InvalidInput(f"case {case.reference} has no payout to resolve")
    adapter = adapters.get(payout.network)
    if adapter is None:
        raise ChainUnreadable(
            f"no RPC endpoint is configured for {payout.network} in this process, so the "
            "chain's evidence cannot be read; configure RECOVERY_RPC__"
            f"{payout.network.upper()} and try again"
        )
    candidates = list(
        session.scalars(
            select(PayoutTransactionRow)
            .where(
                col(PayoutTransactionRow.payout_id) == payout.id,
                col(PayoutTransactionRow.kind) == "transfer",
            )
            .order_by(col(PayoutTransactionRow.id))
        )
    )
    try:
        evidence = read_evidence(adapter, payout, candidates)
        if resolution == "paid":
            return _paid(session, principal, case, payout, adapter, evidence, note, now)
        if resolution == "payout_failed":
            return _failed(session, principal, case, payout, adapter, evidence, note, now)
        return _retry(session, principal, case, payout, candidates, adapter, evidence, note, now)
    except ChainError as exc:
        raise ChainUnreadable(
            f"{payout.network} could not be read to check the decision: {exc}; try again"
        ) from exc


def _paid(
    session: Session,
    principal: Principal,
    case: Case,
    payout: PayoutRow,
    adapter: EvmAdapter,
    evidence: Evidence,
    note: str,
    now: datetime,
) -> Case:
    if evidence.success is None:
        raise NoChainEvidence(
            f"none of the {payout.network} transactions of case {case.reference} is mined "
            "successfully on the canonical chain; it cannot be marked paid"
        )
    delivery = measure(adapter, payout, evidence.success)
    if not delivery.had_effect:
        raise NoChainEvidence(
            f"transaction {evidence.success.tx_hash} is mined but moved nothing to "
            f"{payout.destination}; resolve it as payout_failed"
        )
    fee = evidence.success.fee_paid or 0
    return record_paid(
        session,
        case.id,
        payout,
        delivery,
        gas_spent=fee,
        actor=principal.actor,
        now=now,
        note=f"settled by an operator: {note}",
    )


def _failed(
    session: Session,
    principal: Principal,
    case: Case,
    payout: PayoutRow,
    adapter: EvmAdapter,
    evidence: Evidence,
    note: str,
    now: datetime,
) -> Case:
    if case.status == CaseStatus.PAYOUT_FAILED:
        raise InvalidTransition(f"case {case.reference} is already payout_failed")
    why: str | None = None
    if evidence.failed is not None:
        why = f"transaction {evidence.failed.tx_hash} was mined and failed"
    elif evidence.success is not None:
        if not measure(adapter, payout, evidence.success).had_effect:
            why = f"transaction {evidence.success.tx_hash} was mined but moved nothing"
        else:
            raise NoChainEvidence(
                f"transaction {evidence.success.tx_hash} delivered the payout; resolve it as paid"
            )
    elif evidence.consumed_by_others:
        why = (
            f"nonce {payout.nonce} of {payout.source} was used by a transaction that is not "
            "ours (every endpoint agrees)"
        )
    if why is None:
        raise NoChainEvidence(
            f"the chain shows no failure of case {case.reference}'s payout: nonce "
            f"{payout.nonce} of {payout.source} is not used yet, or not every endpoint "
            "answered, so it may still land; wait, or use retry to broadcast the same "
            "transaction again"
        )
    case.transition(
        CaseStatus.PAYOUT_FAILED,
        actor=principal.actor,
        at=now,
        reason_code=ReasonCode.OPERATOR_DECISION,
        detail=f"{why}; {note}",
    )
    CaseRepository(session).save(case)
    return case


def _retry(
    session: Session,
    principal: Principal,
    case: Case,
    payout: PayoutRow,
    candidates: list[PayoutTransactionRow],
    adapter: EvmAdapter,
    evidence: Evidence,
    note: str,
    now: datetime,
) -> Case:
    repository = CaseRepository(session)
    if evidence.success is not None and measure(adapter, payout, evidence.success).had_effect:
        raise NoChainEvidence(
            f"transaction {evidence.success.tx_hash} delivered the payout; resolve it as paid"
        )
    consumed = (
        evidence.failed is not None or evidence.success is not None or evidence.consumed_by_others
    )
    if consumed and not evidence.nonce_final:
        raise NoChainEvidence(
            f"nonce {payout.nonce} of {payout.source} is used, but not yet in a final block: "
            "a reorg could still bring the payout's own transaction back; a new transaction "
            "is made only once it is final (try again later)"
        )
    if candidates and not consumed:
        if evidence.nonce_used is not False:
            raise NoChainEvidence(
                f"nonce {payout.nonce} of {payout.source} may be in use (not every endpoint "
                "answered, or one counts past it without our transaction): nothing is sent "
                "until the chain says; try again"
            )
        # The nonce is still free: the same signed transaction goes out again.
        case.transition(
            CaseStatus.PAYOUT_PENDING,
            actor=principal.actor,
            at=now,
            reason_code=ReasonCode.OPERATOR_DECISION,
            detail=f"the same signed transaction (nonce {payout.nonce}) is broadcast again; {note}",
        )
        repository.save(case)
        repository.due_now(case.id, now)
        return case
    # A new transaction, with a new nonce: the old one can no longer land.
    requested = payout.retry_requested_by
    if requested is None or requested == principal.subject:
        payout.retry_requested_by = principal.subject
        case.transition(
            case.status,
            actor=principal.actor,
            at=now,
            reason_code=ReasonCode.OPERATOR_DECISION,
            detail=f"asked to send the payout again as a new transaction ({note}); a second, "
            "different admin must confirm with the same request",
        )
        repository.save(case)
        return case
    session.execute(
        update(PayoutTransactionRow)
        .where(
            col(PayoutTransactionRow.payout_id) == payout.id,
            col(PayoutTransactionRow.kind) == "transfer",
        )
        .values(kind="failed_transfer")
    )
    payout.nonce = None
    payout.retry_requested_by = None
    case.transition(
        CaseStatus.PAYOUT_PENDING,
        actor=principal.actor,
        at=now,
        reason_code=ReasonCode.OPERATOR_DECISION,
        detail=f"sent again as a new transaction, asked by {requested} and confirmed by "
        f"{principal.subject}; the old nonce is consumed on chain; {note}",
    )
    repository.save(case)
    repository.due_now(case.id, now)
    return case
