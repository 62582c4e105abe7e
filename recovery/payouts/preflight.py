"""Before a quote and before signing: is the money there, and would the payout move it?

Rules kept here:
- Only pay what is there. The deposit address's current balance of the asset must cover
  this case and every live case ahead of it on the same address and asset (lower case
  number, not yet paid), and no other payout from it may be on its way; otherwise the
  case waits for a reviewer with `deposit_balance_short` and the figures.
- The simulation measures what would arrive. The exact payout (token `transfer`, or the
  native send) is simulated from the deposit address; a revert or a `false` return fails
  it with the decoded reason (`token_not_transferable`); a token that keeps part of every
  transfer shows as what the refund address would really receive.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from chains.evm.adapter import EvmAdapter
from chains.evm.payout import TransferSimulation
from recovery.db.tables import CaseRow, PayoutRow
from recovery.domain.case import NATIVE
from recovery.domain.reasons import ReasonCode
from recovery.domain.states import CaseStatus

# Live cases that still count on the deposit's balance: found and not yet sent.
_HOLDING = (
    CaseStatus.CONFIRMING.value,
    CaseStatus.QUOTED.value,
    CaseStatus.IN_REVIEW.value,
    CaseStatus.NEEDS_INFO.value,
    CaseStatus.APPROVED.value,
    CaseStatus.ON_HOLD.value,
    CaseStatus.PAYOUT_PENDING.value,
)
# Sent, not settled: their transfer may or may not have left the balance yet.
IN_FLIGHT = (CaseStatus.PAYOUT_SENT.value, CaseStatus.QUARANTINED.value)


@dataclass(frozen=True)
class Claim:
    """What one case asks of a deposit address: an asset and an amount in base units."""

    case_id: str
    number: int
    network: str
    deposit_address: str
    token: str
    amount: int
    refund_address: str


@dataclass(frozen=True)
class Holdings:
    """The deposit's balance against what this case and the cases ahead of it need."""

    held: int
    own: int
    ahead: tuple[tuple[str, int], ...]  # (case reference, amount)
    in_flight: tuple[str, ...]  # references of cases ahead whose payout is on its way

    @property
    def needed(self) -> int:
        """This case's amount plus every live case's ahead of it."""
        return self.own + sum(amount for _, amount in self.ahead)

    @property
    def short(self) -> bool:
        """True when the address holds less than is needed."""
        return self.held < self.needed

    def detail(self, claim: Claim) -> str:
        """The figures, for an event a reviewer reads."""
        others = ", ".join(f"{ref} {amount}" for ref, amount in self.ahead) or "none"
        return (
            f"the deposit address {claim.deposit_address} holds {self.held} base units of "
            f"{claim.token} on {claim.network}, but {self.needed} are needed: this case "
            f"{self.own}, live cases ahead of it: {others}; nothing is signed until it holds "
            "enough (a reviewer decides: recheck later, or reject)"
        )


@dataclass(frozen=True)
class Preflight:
    """The outcome of the checks: why the case cannot go on (None: it can), and figures."""

    holdings: Holdings
    simulation: TransferSimulation | None
    reason_code: str | None
    detail: str
    payout_amount: int

    @property
    def passed(self) -> bool:
        """True when the payout may go ahead."""
        return self.reason_code is None

    @property
    def token_keeps(self) -> int:
        """Base units the token would keep of the payout (0 when it keeps nothing)."""
        sim = self.simulation
        if sim is None or sim.delivered is None:
            return 0
        return max(0, self.payout_amount - sim.delivered)


def holdings(session: Session, adapter: EvmAdapter, claim: Claim) -> Holdings:
    """Read the deposit's balance and the live cases ahead of `claim` on the same asset."""
    held = (
        adapter.native_balance(claim.deposit_address)
        if claim.token == NATIVE
        else adapter.token_balance(claim.token, claim.deposit_address)
    )
    rows = session.execute(
        select(
            col(CaseRow.number),
            col(CaseRow.status),
            col(CaseRow.facts),
            col(PayoutRow.amount),
            col(PayoutRow.fee_amount),
            col(PayoutRow.nonce),
        )
        .outerjoin(PayoutRow, col(PayoutRow.case_id) == col(CaseRow.id))
        .where(
            col(CaseRow.network) == claim.network,
            func.lower(col(CaseRow.deposit_address)) == claim.deposit_address.lower(),
            col(CaseRow.id) != claim.case_id,
            col(CaseRow.status).in_((*_HOLDING, *IN_FLIGHT)),
        )
        .order_by(col(CaseRow.number))
    ).all()
    ahead: list[tuple[str, int]] = []
    in_flight: list[str] = []
    for number, status, facts, frozen, fee, nonce in rows:
        token = str((facts or {}).get("token", ""))
        if token.lower() != claim.token.lower():
            continue
        ref = f"RC-{number:06d}"
        # A pending payout with a nonce is signed: it may be broadcast, even mined, before
        # its case says `payout_sent` (a worker that lost its lease after broadcasting).
        signed = status == CaseStatus.PAYOUT_PENDING.value and nonce is not None
        if status in IN_FLIGHT or signed:
            # On its way, whatever its number: its amount may still be in the balance.
            in_flight.append(ref)
            continue
        if number > claim.number:
            continue  # behind this case: it waits for this one, not the other way round
        amount = frozen + fee if frozen is not None else int((facts or {}).get("amount", 0))
        ahead.append((ref, amount))
    return Holdings(held=held, own=claim.amount, ahead=tuple(ahead), in_flight=tuple(in_flight))


def preflight(
    session: Session,
    adapter: EvmAdapter,
    claim: Claim,
    *,
    payout_amount: int,
) -> Preflight:
    """Check the balance, then simulate sending `payout_amount` to the refund address."""
    held = holdings(session, adapter, claim)
    if held.short:
        return Preflight(
            held, None, ReasonCode.DEPOSIT_BALANCE_SHORT, held.detail(claim), payout_amount
        )
    simulation = adapter.simulate_transfer(
        token=None if claim.token == NATIVE else claim.token,
        sender=claim.deposit_address,
        recipient=claim.refund_address,
        amount=payout_amount,
    )
    if not simulation.ok:
        return Preflight(
            held,
            simulation,
            ReasonCode.TOKEN_NOT_TRANSFERABLE,
            f"a payout of {payout_amount} base units of {claim.token} from "
            f"{claim.deposit_address} to {claim.refund_address} on {claim.network} would fail: "
            f"{simulation.reason or 'the call reverted'}; nothing is signed and no gas is spent",
            payout_amount,
        )
    return Preflight(held, simulation, None, "", payout_amount)
