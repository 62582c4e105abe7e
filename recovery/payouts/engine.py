"""The payout engine: sequences the steps of a payout; each step keeps one rule in its module.

For one case, each step its own database transaction:
1. `approved -> payout_pending`.
2. Before anything is signed (`preflight`): the deposit still stands where it was
   verified, its balance covers this case and the live cases ahead of it, and the exact
   payout simulates successfully; otherwise the case goes back to a reviewer, with no gas
   spent.
3. Gas (`topups`): a deposit address short of gas gets a top-up of gas only from the gas
   wallet, one in flight per address, tracked on its own.
4. Signing (`lease`, `nonces`): in one transaction that holds the case's lease and
   the payout row, the payout gets its one nonce (reconciled with the chain), is signed
   and written down; only then is it broadcast. `payout_pending -> payout_sent`.
5. Tracking: a canonical, confirmed receipt is judged by what arrived (`delivery`):
   something -> `paid` with `delivered_amount`; nothing -> `payout_failed`
   (`payout_had_no_effect`); a failed receipt -> `payout_failed` with the revert reason;
   a dropped transaction -> `payout_pending`, where the SAME signed bytes go out again; a
   stuck one -> the same nonce re-signed with higher fees up to a cap; one stuck past
   `stall_after` -> `quarantined` for an operator.
6. Finality: a paid case is watched until its block is final; a reorg before that puts
   it back to tracking and unbooks its fee.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from chains.errors import ChainError
from chains.evm.adapter import EvmAdapter
from chains.evm.payout import (
    NATIVE_TRANSFER_GAS,
    BroadcastOutcome,
    BroadcastResult,
    FeeParams,
    Receipt,
    broadcast_payout,
    bumped,
    erc20_transfer_tx,
    native_transfer_tx,
)
from chains.signers.base import SignedPayout
from chains.signers.hd import HdSigner
from policies import Policy
from recovery.appeals.repository import CaseRepository
from recovery.db.engine import Database
from recovery.db.tables import (
    DepositAddressRow,
    LedgerEntryRow,
    PayoutRow,
    PayoutTransactionRow,
)
from recovery.domain.case import NATIVE, Case
from recovery.domain.reasons import ReasonCode
from recovery.domain.states import CaseStatus
from recovery.payouts import lease as leases
from recovery.payouts.delivery import Delivery, measure
from recovery.payouts.evidence import Witnesses
from recovery.payouts.nonces import NonceGap, allocate_nonce
from recovery.payouts.preflight import Claim, preflight
from recovery.payouts.settle import record_paid
from recovery.verification.claims import claim_due, release

log = logging.getLogger(__name__)
SYSTEM = "system:payouts"
TOKEN_TRANSFER_GAS = 100_000
# Gas a token transfer is given over what its simulation used.
GAS_HEADROOM_PERCENT = 30
# Without a configured cap, bumps stop at this multiple of the first candidate's fee.
DEFAULT_FEE_CAP_MULTIPLE = 4


def no_crash(point: str) -> None:
    """The default crash hook: do nothing (tests pass one that kills the process)."""


@dataclass
class PayoutReport:
    """What one payout cycle did."""

    claimed: int = 0
    broadcast: int = 0
    moved: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    lost_leases: int = 0
    shortfalls: int = 0

    def count(self, status: str) -> None:
        """Count one move to `status`."""
        self.moved[status] = self.moved.get(status, 0) + 1


class PayoutBlocked(Exception):
    """Raised when a payout cannot go on now; the message is shown on the case."""


class PayoutEngine:
    """Runs payouts for the networks it has adapters for."""

    def __init__(
        self,
        database: Database,
        policy: Policy,
        adapters: Mapping[str, EvmAdapter],
        signer: HdSigner,
        clock: Callable[[], datetime],
        *,
        owner: str | None = None,
        crash_hook: Callable[[str], None] = no_crash,
        lease: timedelta = timedelta(seconds=120),
        bump_after: timedelta = timedelta(minutes=5),
        retry: timedelta = timedelta(seconds=5),
        stall_after: timedelta = timedelta(hours=1),
        fee_caps: Mapping[str, int] | None = None,
        finality_depth: int = 64,
    ) -> None:
        self.database = database
        self.policy = policy
        self.adapters = adapters
        self.signer = signer
        self.clock = clock
        self.owner = owner or f"payouts-{uuid.uuid4().hex[:12]}"
        self.crash_hook = crash_hook
        self.lease = lease
        self.bump_after = bump_after
        self.retry = retry
        self.stall_after = stall_after
        self.fee_caps = dict(fee_caps or {})
        self.finality_depth = finality_depth
        self._witnesses: dict[str, Witnesses] = {}

    def close(self) -> None:
        """Release the per-endpoint connections opened for evidence."""
        for witnesses in self._witnesses.values():
            witnesses.close()
        self._witnesses.clear()

    # -- the cycle ----------------------------------------------------------------------

    def payout_cycle(self, limit: int = 50) -> PayoutReport:
        """Send due payouts, track sent ones, watch paid ones to finality; one try per case."""
        report = PayoutReport()
        now = self.clock()
        with self.database.unit_of_work() as session:
            ids = claim_due(
                session,
                statuses=[CaseStatus.APPROVED, CaseStatus.PAYOUT_PENDING, CaseStatus.PAYOUT_SENT],
                owner=self.owner,
                now=now,
                lease=self.lease,
                limit=limit,
            )
            ids += claim_due(
                session,
                statuses=[CaseStatus.PAID, CaseStatus.QUARANTINED],
                owner=self.owner,
                now=now,
                lease=self.lease,
                limit=limit,
                scheduled_only=True,
            )
        report.claimed = len(ids)
        for case_id in ids:
            next_check: datetime | None = self.clock() + self.retry
            try:
                next_check = self._work(case_id, report)
            except leases.LeaseLost:
                report.lost_leases += 1
                log.warning("payout of case %s: lease lost to another worker; left alone", case_id)
                continue
            except PayoutBlocked as blocked:
                self._note(case_id, str(blocked))
            except ChainError as exc:
                self._note(case_id, f"chain unavailable: {exc}")
            except Exception:
                report.errors += 1
                log.exception("payout of case %s failed", case_id)
                self._note(case_id, "an internal error stopped the payout; it will retry")
            with self.database.unit_of_work() as session:
                release(session, case_id, owner=self.owner, next_check_at=next_check)
        return report

    def _work(self, case_id: str, report: PayoutReport) -> datetime | None:
        with self.database.unit_of_work() as session:
            if not leases.hold(
                session, case_id, owner=self.owner, now=self.clock(), lease=self.lease
            ):
                raise leases.LeaseLost(case_id)
            case = CaseRepository(session).get(case_id)
            if case is None:
                return None
            status = case.status
        if status == CaseStatus.APPROVED:
            self._move(case_id, CaseStatus.PAYOUT_PENDING, "payout queued", report)
            status = CaseStatus.PAYOUT_PENDING
        if status == CaseStatus.PAYOUT_PENDING:
            return self._send(case_id, report)
        if status == CaseStatus.PAYOUT_SENT:
            return self._track(case_id, report)
        if status == CaseStatus.QUARANTINED:
            return self._watch_quarantined(case_id, report)
        if status == CaseStatus.PAID:
            return self._watch_paid(case_id, report)
        return None

    # -- sending ------------------------------------------------------------------------

    def _send(self, case_id: str, report: PayoutReport) -> datetime | None:
        with self.database.unit_of_work() as session:
            payout = self._payout(session, case_id)
            candidates = self._candidates(session, payout.id)
            case = CaseRepository(session).get(case_id)
        assert case is not None
        adapter = self._adapter(payout.network)
        if candidates:
            # Signed before (maybe broadcast, maybe not): the same nonce, the same bytes.
            return self._rebroadcast(case_id, payout, candidates, adapter, report)
        moved = self._deposit_moved(case, adapter)
        if moved is not None:
            # Nothing is signed yet: safe to stop here and verify the deposit again.
            self._move(case_id, CaseStatus.ON_HOLD, moved, report, reason_code="reorged")
            return None
        claim = Claim(
            case_id=case.id,
            number=case.number or 0,
            network=payout.network,
            deposit_address=payout.source,
            token=payout.token,
            amount=payout.amount + payout.fee_amount,
            refund_address=payout.destination,
        )
        with self.database.unit_of_work() as session:
            checked = preflight(
                session, adapter, claim, reference=case.reference, payout_amount=payout.amount
            )
        if checked.holdings.in_flight:
            raise PayoutBlocked(
                f"waiting for the payouts of {', '.join(checked.holdings.in_flight)} from the "
                "same deposit address to settle before this one is signed"
            )
        if not checked.passed:
            self._back_to_review(case_id, checked.reason_code or "", checked.detail, report)
            return None
        gas = _gas_limit(payout, checked.simulation.gas_used if checked.simulation else None)
        fees = self._capped_fees(payout.network, adapter.fee_params())
        self._gas_ready(case_id, payout, adapter, _native(payout) + fees.max_cost(gas), report)
        transfer = self._sign_first(case_id, payout, adapter, gas, fees)
        self.crash_hook("after_store")
        return self._broadcast(case_id, transfer, [transfer], adapter, report)

    def _rebroadcast(
        self,
        case_id: str,
        payout: PayoutRow,
        candidates: list[PayoutTransactionRow],
        adapter: EvmAdapter,
        report: PayoutReport,
    ) -> datetime | None:
        """Broadcast again every candidate the sender can still afford, newest first."""
        known = self._seen_on_chain(adapter, [c.tx_hash for c in candidates])
        if known is not None:
            # Already mined or pooled (a crash after the broadcast): only tracking is left.
            self._sent(case_id, next(c for c in candidates if c.tx_hash == known), report)
            return self.clock()
        value = payout.amount if payout.token == NATIVE else 0
        balance = adapter.native_balance(payout.source)
        affordable = [c for c in reversed(candidates) if value + _max_cost(c, payout) <= balance]
        if not affordable:
            newest = candidates[-1]
            self._gas_ready(case_id, payout, adapter, value + _max_cost(newest, payout), report)
            affordable = [newest]
        return self._broadcast(case_id, affordable[0], candidates, adapter, report, affordable)

    def _broadcast(
        self,
        case_id: str,
        chosen: PayoutTransactionRow,
        candidates: list[PayoutTransactionRow],
        adapter: EvmAdapter,
        report: PayoutReport,
        sending: list[PayoutTransactionRow] | None = None,
    ) -> datetime | None:
        results: list[tuple[PayoutTransactionRow, BroadcastResult]] = []
        for row in sending or [chosen]:
            result = broadcast_payout(adapter, _raw(row))
            self.crash_hook("after_broadcast")
            report.broadcast += 1
            self._record_broadcast(row, result)
            results.append((row, result))
        accepted = [row for row, r in results if r.outcome == BroadcastOutcome.ACCEPTED]
        if accepted:
            self._sent(case_id, accepted[0], report)
            return self._pace(chosen)
        outcomes = {r.outcome for _, r in results}
        if outcomes == {BroadcastOutcome.NOT_SENT}:
            raise PayoutBlocked(f"no node reachable: {results[0][1].detail}")
        # LOOK_UP, AMBIGUOUS, REJECTED: only the hashes we made can tell what happened.
        known = self._seen_on_chain(adapter, [c.tx_hash for c in candidates])
        if known is not None:
            self._sent(case_id, chosen, report)
            return self.clock()
        if BroadcastOutcome.AMBIGUOUS not in outcomes:
            refused = "; ".join(f"{row.tx_hash}: {r.detail}" for row, r in results)
            raise PayoutBlocked(f"node refused the payout: {refused}")
        detail = next(r.detail for _, r in results if r.outcome == BroadcastOutcome.AMBIGUOUS)
        self._move(
            case_id,
            CaseStatus.QUARANTINED,
            f"outcome of payout {chosen.tx_hash} cannot be known (ambiguous: {detail}); it is "
            "watched on chain, never sent again on its own; an operator settles it",
            report,
            reason_code=ReasonCode.PAYOUT_OUTCOME_UNKNOWN,
            next_check=self.clock() + timedelta(seconds=30),
        )
        return self.clock() + timedelta(seconds=30)

    def _record_broadcast(self, row: PayoutTransactionRow, result: BroadcastResult) -> None:
        with self.database.unit_of_work() as session:
            stored = session.get(PayoutTransactionRow, row.id)
            if stored is None:
                return
            if result.outcome == BroadcastOutcome.ACCEPTED:
                stored.broadcast_error = None
                if stored.broadcast_at is None:
                    stored.broadcast_at = self.clock()
            elif result.outcome in (BroadcastOutcome.REJECTED, BroadcastOutcome.LOOK_UP):
                stored.broadcast_error = result.detail[:500]
        if result.outcome != BroadcastOutcome.ACCEPTED:
            log.warning(
                "broadcast of %s (nonce %d from %s): %s %s",
                row.tx_hash,
                row.nonce,
                row.sender,
                result.outcome,
                result.detail,
            )

    def _sent(self, case_id: str, chosen: PayoutTransactionRow, report: PayoutReport) -> None:
        self._move(case_id, CaseStatus.PAYOUT_SENT, f"payout {chosen.tx_hash} broadcast", report)

    def _seen_on_chain(self, adapter: EvmAdapter, hashes: list[str]) -> str | None:
        receipts = adapter.receipts(hashes)
        for tx_hash, receipt in receipts.items():
            if receipt is not None:
                return tx_hash
        for tx_hash in hashes:
            if adapter.transaction_by_hash(tx_hash) is not None:
                return tx_hash
        return None

    def _back_to_review(
        self, case_id: str, reason_code: str, detail: str, report: PayoutReport
    ) -> None:
        """Nothing signed: the case goes back to a reviewer, its approvals cleared."""
        with self.database.unit_of_work() as session:
            repository = CaseRepository(session)
            case = repository.get(case_id)
            assert case is not None
            case.transition(
                CaseStatus.IN_REVIEW,
                actor=SYSTEM,
                at=self.clock(),
                reason_code=reason_code,
                detail=detail,
            )
            case.approvals = []
            case.reviewer = None
            case.check_note = detail
            repository.save(case)
        log.warning("payout of case %s held for a reviewer: %s: %s", case_id, reason_code, detail)
        report.count(CaseStatus.IN_REVIEW.value)

    # -- gas ----------------------------------------------------------------------------

    def _gas_ready(
        self,
        case_id: str,
        payout: PayoutRow,
        adapter: EvmAdapter,
        required: int,
        report: PayoutReport,
    ) -> None:
        """Return once the deposit address holds `required` wei; else top up and raise.

        Gas is gas: a top-up covers only what the payout's gas may cost beyond what the
        address holds (a native payout's own amount is checked by `preflight`, never paid
        by the gas wallet). At most one top-up is in flight per deposit address: one
        already signed is tracked (mined, re-broadcast, bumped) instead of signing another.
        """
        with self.database.unit_of_work() as session:
            flight = self._topups_in_flight(session, payout.network, payout.source)
        if flight:
            self._track_top_up(case_id, payout, adapter, flight, report)
        balance = adapter.native_balance(payout.source)
        if balance >= required:
            return
        gas_value = required - balance
        wallet = self.signer.gas_wallet_address
        chain = self._witness(payout.network).nonces(wallet)
        fees = self._capped_fees(payout.network, adapter.fee_params())
        chain_id = self._chain_id(payout.network)
        try:
            with self.database.unit_of_work() as session:
                self._hold(session, case_id)
                nonce = allocate_nonce(session, payout.network, wallet, chain)
                tx = native_transfer_tx(
                    sender=wallet,
                    recipient=payout.source,
                    value=gas_value,
                    nonce=nonce,
                    fees=fees,
                    chain_id=chain_id,
                )
                signed = self.signer.sign_transaction(wallet, tx, chain_id)
                topup = self._store(
                    session,
                    payout,
                    "gas_topup",
                    signed,
                    fees,
                    NATIVE_TRANSFER_GAS,
                    payout.source,
                    gas_value,
                )
        except NonceGap as gap:
            self._close_gap(adapter, gap)
            raise PayoutBlocked(f"gas wallet: {gap}") from gap
        log.info(
            "gas top-up %s of %d wei to %s signed (nonce %d) for case %s",
            topup.tx_hash,
            gas_value,
            payout.source,
            nonce,
            case_id,
        )
        self.crash_hook("after_store")
        result = broadcast_payout(adapter, _raw(topup))
        self._record_broadcast(topup, result)
        self.crash_hook("after_broadcast")
        report.broadcast += 1
        raise PayoutBlocked(
            f"topping up gas of {payout.source} with {gas_value} wei: {topup.tx_hash} "
            f"({result.outcome})"
        )

    def _track_top_up(
        self,
        case_id: str,
        payout: PayoutRow,
        adapter: EvmAdapter,
        flight: list[PayoutTransactionRow],
        report: PayoutReport,
    ) -> None:
        receipts = adapter.receipts([t.tx_hash for t in flight])
        mined = [r for r in receipts.values() if r is not None]
        if mined:
            state = "mined" if any(r.status == "success" for r in mined) else "abandoned"
            with self.database.unit_of_work() as session:
                for row in flight:
                    stored = session.get(PayoutTransactionRow, row.id)
                    if stored is not None:
                        stored.state = state
            return  # arrived (the caller reads the balance again) or failed (a new one)
        latest = flight[-1]
        if self.clock() - latest.created_at >= self.bump_after:
            fees = bumped(FeeParams(**_fee_fields(latest.fees)))
            if self._within_cap(payout.network, fees, flight[0]):
                chain_id = self._chain_id(payout.network)
                tx = native_transfer_tx(
                    sender=latest.sender,
                    recipient=payout.source,
                    value=_value_of(latest),
                    nonce=latest.nonce,
                    fees=fees,
                    chain_id=chain_id,
                )
                signed = self.signer.sign_transaction(latest.sender, tx, chain_id)
                with self.database.unit_of_work() as session:
                    self._hold(session, case_id)
                    latest = self._store(
                        session,
                        payout,
                        "gas_topup",
                        signed,
                        fees,
                        NATIVE_TRANSFER_GAS,
                        payout.source,
                        _value_of(latest),
                    )
        result = broadcast_payout(adapter, _raw(latest))
        self._record_broadcast(latest, result)
        report.broadcast += 1
        raise PayoutBlocked(f"waiting for the gas top-up {latest.tx_hash} ({result.outcome})")

    def _topups_in_flight(
        self, session: Session, network: str, address: str
    ) -> list[PayoutTransactionRow]:
        rows = list(
            session.scalars(
                select(PayoutTransactionRow)
                .join(PayoutRow, PayoutRow.id == PayoutTransactionRow.payout_id)
                .where(
                    PayoutRow.network == network,
                    PayoutTransactionRow.kind == "gas_topup",
                    PayoutTransactionRow.state == "pending",
                    func.lower(PayoutTransactionRow.recipient) == address.lower(),
                )
                .order_by(PayoutTransactionRow.id)
            )
        )
        for row in rows:
            session.expunge(row)
        return rows

    # -- signing ------------------------------------------------------------------------

    def _sign_first(
        self, case_id: str, payout: PayoutRow, adapter: EvmAdapter, gas: int, fees: FeeParams
    ) -> PayoutTransactionRow:
        """Give the payout its one nonce and sign it, where the lease is held and checked."""
        chain = self._witness(payout.network).nonces(payout.source)
        chain_id = self._chain_id(payout.network)
        try:
            with self.database.unit_of_work() as session:
                self._hold(session, case_id)
                row = session.get(
                    PayoutRow, payout.id, with_for_update=True, populate_existing=True
                )
                assert row is not None
                if row.nonce is not None or self._candidates(session, payout.id):
                    raise PayoutBlocked(
                        f"payout {payout.id} was signed meanwhile (nonce {row.nonce}); tracking it"
                    )
                self._key_for(session, payout.source)
                nonce = allocate_nonce(session, payout.network, payout.source, chain)
                row.nonce = nonce
                tx = self._transfer_tx(payout, nonce, fees, gas, chain_id)
                signed = self.signer.sign_transaction(payout.source, tx, chain_id)
                stored = self._store(
                    session,
                    payout,
                    "transfer",
                    signed,
                    fees,
                    gas,
                    payout.destination,
                    _native(payout),
                )
        except NonceGap as gap:
            self._close_gap(adapter, gap)
            raise PayoutBlocked(str(gap)) from gap
        log.info(
            "payout of case %s signed: %s, nonce %d from %s, %d base units of %s to %s",
            case_id,
            stored.tx_hash,
            nonce,
            payout.source,
            payout.amount,
            payout.token,
            payout.destination,
        )
        return stored

    def _close_gap(self, adapter: EvmAdapter, gap: NonceGap) -> None:
        """Broadcast again our own signed transactions that the chain has not seen."""
        for tx in gap.waiting_on:
            result = broadcast_payout(adapter, bytes.fromhex(tx.raw.removeprefix("0x")))
            log.warning(
                "nonce gap of %s on %s: re-broadcast %s (nonce %d): %s %s",
                gap.address,
                gap.network,
                tx.tx_hash,
                tx.nonce,
                result.outcome,
                result.detail,
            )

    def _transfer_tx(
        self, payout: PayoutRow, nonce: int, fees: FeeParams, gas: int, chain_id: int
    ) -> dict[str, Any]:
        if payout.token == NATIVE:
            return native_transfer_tx(
                sender=payout.source,
                recipient=payout.destination,
                value=payout.amount,
                nonce=nonce,
                fees=fees,
                chain_id=chain_id,
            )
        return erc20_transfer_tx(
            token=payout.token,
            sender=payout.source,
            recipient=payout.destination,
            value=payout.amount,
            nonce=nonce,
            fees=fees,
            gas=gas,
            chain_id=chain_id,
        )

    def _bump(
        self,
        case_id: str,
        payout: PayoutRow,
        candidates: list[PayoutTransactionRow],
        adapter: EvmAdapter,
        report: PayoutReport,
    ) -> None:
        """Re-sign the payout's nonce with higher fees, within the cap and what it can afford."""
        accepted = [c for c in candidates if c.broadcast_at is not None and not c.broadcast_error]
        base = accepted[-1] if accepted else candidates[-1]
        fees = bumped(FeeParams(**_fee_fields(base.fees)))
        if not self._within_cap(payout.network, fees, candidates[0]):
            self._note(
                case_id,
                f"payout {base.tx_hash} is waiting at the fee cap of {payout.network}; no "
                "further bump",
            )
            return
        gas = int(base.fees.get("gas") or _gas_limit(payout, None))
        value = payout.amount if payout.token == NATIVE else 0
        balance = adapter.native_balance(payout.source)
        if balance < value + fees.max_cost(gas):
            # Short of gas for the higher fee: top up and send the same fee again.
            result = broadcast_payout(adapter, _raw(base))
            self._record_broadcast(base, result)
            self._gas_ready(case_id, payout, adapter, value + fees.max_cost(gas), report)
        chain_id = self._chain_id(payout.network)
        with self.database.unit_of_work() as session:
            self._hold(session, case_id)
            row = session.get(PayoutRow, payout.id, with_for_update=True, populate_existing=True)
            assert row is not None
            if row.nonce != base.nonce:
                raise PayoutBlocked(f"payout {payout.id} has nonce {row.nonce}, not {base.nonce}")
            tx = self._transfer_tx(payout, base.nonce, fees, gas, chain_id)
            signed = self.signer.sign_transaction(payout.source, tx, chain_id)
            bump = self._store(
                session, payout, "transfer", signed, fees, gas, payout.destination, _native(payout)
            )
        self.crash_hook("after_store")
        result = broadcast_payout(adapter, _raw(bump))
        self._record_broadcast(bump, result)
        report.broadcast += 1
        log.info(
            "payout of case %s bumped: %s (nonce %d) fees %s: %s",
            case_id,
            bump.tx_hash,
            bump.nonce,
            _fee_fields(bump.fees),
            result.outcome,
        )

    def _capped_fees(self, network: str, fees: FeeParams) -> FeeParams:
        cap = self.fee_caps.get(network)
        if cap is None:
            return fees
        if fees.gas_price is not None:
            return FeeParams.legacy(min(fees.gas_price, cap))
        top = min(fees.max_fee_per_gas or 0, cap)
        return FeeParams.eip1559(top, min(fees.max_priority_fee_per_gas or 0, top))

    def _within_cap(self, network: str, fees: FeeParams, first: PayoutTransactionRow) -> bool:
        per_gas = fees.gas_price if fees.gas_price is not None else fees.max_fee_per_gas
        cap = self.fee_caps.get(network)
        if cap is None:
            first_fees = _fee_fields(first.fees)
            start = first_fees.get("gas_price") or first_fees.get("max_fee_per_gas") or 0
            cap = start * DEFAULT_FEE_CAP_MULTIPLE
        return (per_gas or 0) <= cap

    # -- tracking -----------------------------------------------------------------------

    def _track(self, case_id: str, report: PayoutReport) -> datetime | None:
        with self.database.unit_of_work() as session:
            payout = self._payout(session, case_id)
            candidates = self._candidates(session, payout.id)
        adapter = self._adapter(payout.network)
        network = self.policy.networks[payout.network]
        success, failed = self._mined(adapter, candidates)
        if success is not None:
            confirmations = adapter.head() - success.block_number + 1
            if confirmations < network.confirmations:
                return self.clock() + timedelta(seconds=network.block_time_seconds)
            return self._judge_effect(case_id, payout, adapter, success, report)
        if failed is not None:
            self._failed(case_id, payout, adapter, failed, report)
            return None
        first, latest = candidates[0], candidates[-1]
        if not any(adapter.transaction_by_hash(c.tx_hash) for c in reversed(candidates)):
            self._move(
                case_id,
                CaseStatus.PAYOUT_PENDING,
                f"payout {latest.tx_hash} is no longer known to the node (dropped or "
                "reorged out); the same signed transaction will be broadcast again",
                report,
            )
            return self.clock()
        if self.clock() - first.created_at >= self.stall_after:
            self._move(
                case_id,
                CaseStatus.QUARANTINED,
                f"payout nonce {first.nonce} from {payout.source} has not been mined since "
                f"{first.created_at.isoformat()} ({len(candidates)} candidates, last "
                f"{latest.tx_hash}); it is watched on chain and an operator decides",
                report,
                reason_code=ReasonCode.PAYOUT_STALLED,
                next_check=self.clock() + timedelta(seconds=30),
            )
            return self.clock() + timedelta(seconds=30)
        if self.clock() - latest.created_at >= self.bump_after:
            self._bump(case_id, payout, candidates, adapter, report)
        return self.clock() + timedelta(seconds=network.block_time_seconds)

    def _mined(
        self, adapter: EvmAdapter, candidates: list[PayoutTransactionRow]
    ) -> tuple[Receipt | None, Receipt | None]:
        """The canonical successful and failed receipts among the candidates.

        A receipt whose block hash is not the canonical one at its height (asked in the
        same round as the head) is dropped: that block was reorged out.
        """
        receipts = adapter.receipts([c.tx_hash for c in candidates])
        mined = [r for r in receipts.values() if r is not None]
        if not mined:
            return None, None
        canonical = adapter.block_hashes(sorted({r.block_number for r in mined}))
        kept = [r for r in mined if (canonical.get(r.block_number) or "") == r.block_hash]
        success = next((r for r in kept if r.status == "success"), None)
        failed = next((r for r in kept if r.status == "failed"), None)
        return success, failed

    def _judge_effect(
        self,
        case_id: str,
        payout: PayoutRow,
        adapter: EvmAdapter,
        receipt: Receipt,
        report: PayoutReport,
        *,
        actor: str = SYSTEM,
    ) -> datetime | None:
        delivery = measure(adapter, payout, receipt)
        if not delivery.had_effect:
            held = (
                adapter.native_balance(payout.source)
                if payout.token == NATIVE
                else adapter.token_balance(payout.token, payout.source)
            )
            now_sim = adapter.simulate_transfer(
                token=None if payout.token == NATIVE else payout.token,
                sender=payout.source,
                recipient=payout.destination,
                amount=payout.amount,
            )
            self._move(
                case_id,
                CaseStatus.PAYOUT_FAILED,
                f"payout {receipt.tx_hash} was mined with status success but moved nothing to "
                f"{payout.destination} (no Transfer log to it, balance change "
                f"{delivery.balance_change}); the same transfer now: "
                f"{now_sim.reason or 'would succeed'}; the deposit address holds {held} base "
                "units; no fee is booked and nothing is retried on its own",
                report,
                reason_code=ReasonCode.PAYOUT_HAD_NO_EFFECT,
                actor=actor,
            )
            return None
        self._paid(case_id, payout, adapter, delivery, report, actor=actor)
        return self.clock() + timedelta(seconds=self._finality_poll(payout.network))

    def _failed(
        self,
        case_id: str,
        payout: PayoutRow,
        adapter: EvmAdapter,
        receipt: Receipt,
        report: PayoutReport,
        *,
        actor: str = SYSTEM,
    ) -> None:
        try:
            replay = adapter.simulate_transfer(
                token=None if payout.token == NATIVE else payout.token,
                sender=payout.source,
                recipient=payout.destination,
                amount=payout.amount,
                # The state at the end of its block: what made it fail is in there.
                block=receipt.block_number,
            )
            why = replay.reason or "the node gives no reason"
        except ChainError as exc:
            why = f"the reason could not be read ({exc})"
        self._move(
            case_id,
            CaseStatus.PAYOUT_FAILED,
            f"payout {receipt.tx_hash} was mined but failed in block {receipt.block_number}: "
            f"{why}; an operator must look",
            report,
            reason_code=ReasonCode.PAYOUT_REVERTED,
            actor=actor,
        )

    def _paid(
        self,
        case_id: str,
        payout: PayoutRow,
        adapter: EvmAdapter,
        delivery: Delivery,
        report: PayoutReport,
        *,
        actor: str = SYSTEM,
    ) -> None:
        gas = self._gas_spent(adapter, payout, delivery.tx_hash)
        if delivery.amount < payout.amount:
            report.shortfalls += 1
        with self.database.unit_of_work() as session:
            case = record_paid(
                session, case_id, payout, delivery, gas_spent=gas, actor=actor, now=self.clock()
            )
        log.info("case %s paid: %s", case.reference, delivery.describe(payout))
        report.count(CaseStatus.PAID.value)

    def _gas_spent(self, adapter: EvmAdapter, payout: PayoutRow, tx_hash: str) -> int:
        """Wei paid for the delivering transfer and the payout's mined gas top-ups."""
        with self.database.unit_of_work() as session:
            topups = [
                row.tx_hash
                for row in session.scalars(
                    select(PayoutTransactionRow).where(
                        PayoutTransactionRow.payout_id == payout.id,
                        PayoutTransactionRow.kind == "gas_topup",
                    )
                )
            ]
        receipts = adapter.receipts([tx_hash, *topups])
        return sum((r.fee_paid or 0) for r in receipts.values() if r is not None)

    # -- watching -----------------------------------------------------------------------

    def _watch_paid(self, case_id: str, report: PayoutReport) -> datetime | None:
        """A paid payout until its block is final; a reorg before that tracks it again."""
        with self.database.unit_of_work() as session:
            payout = self._payout(session, case_id)
        if payout.final_at is not None or payout.delivered_tx is None:
            return None
        adapter = self._adapter(payout.network)
        block = payout.delivered_block or 0
        receipt = adapter.receipts([payout.delivered_tx]).get(payout.delivered_tx)
        canonical = adapter.block_hashes([block]).get(block)
        if receipt is None or canonical is None or canonical != payout.delivered_block_hash:
            if receipt is None and canonical is None:
                # The node is below the block: a lagging endpoint proves nothing yet.
                return self.clock() + timedelta(seconds=self._finality_poll(payout.network))
            with self.database.unit_of_work() as session:
                case = CaseRepository(session).get(case_id)
            if case is not None and self._deposit_moved(case, adapter) is not None:
                # The deposit is gone as well as the payout: a reset chain (a devnet started
                # afresh) or a reorg deeper than both. Sending the payout again could spend
                # funds that are not this case's: an operator looks, nothing is sent.
                detail = (
                    f"the {payout.network} chain no longer shows this case's deposit nor its "
                    f"payout {payout.delivered_tx} (block {block}): a reset chain or a very "
                    "deep reorg; nothing is sent again, an operator should look"
                )
                log.error("case %s: %s", case.reference, detail)
                self._note(case_id, detail)
                return None
            self._unpaid(case_id, payout, canonical, report)
            return self.clock()
        finalized = adapter.finalized_head()
        if finalized is not None:
            final = finalized >= block
        else:
            final = adapter.head() - block + 1 >= self.finality_depth
        if not final:
            return self.clock() + timedelta(seconds=self._finality_poll(payout.network))
        with self.database.unit_of_work() as session:
            row = session.get(PayoutRow, payout.id)
            assert row is not None
            row.final_at = self.clock()
            repository = CaseRepository(session)
            case = repository.get(case_id)
            if case is not None and case.facts and "payout" in case.facts:
                case.facts = {**case.facts, "payout": {**case.facts["payout"], "final": True}}
                repository.save(case)
        log.info("payout of case %s is final in block %d", case_id, block)
        return None

    def _unpaid(
        self, case_id: str, payout: PayoutRow, canonical: str | None, report: PayoutReport
    ) -> None:
        with self.database.unit_of_work() as session:
            repository = CaseRepository(session)
            case = repository.get(case_id)
            assert case is not None
            case.transition(
                CaseStatus.PAYOUT_SENT,
                actor=SYSTEM,
                at=self.clock(),
                reason_code=ReasonCode.PAYOUT_REORGED,
                detail=f"block {payout.delivered_block} holding payout {payout.delivered_tx} is "
                f"no longer {payout.delivered_block_hash} (now {canonical}); the payout is "
                "tracked again (the same signed transaction, never a second one) and its fee "
                "is unbooked until it is final",
            )
            facts = dict(case.facts or {})
            facts.pop("payout", None)
            case.facts = facts
            repository.save(case)
            session.execute(delete(LedgerEntryRow).where(LedgerEntryRow.case_id == case_id))
            row = session.get(PayoutRow, payout.id)
            assert row is not None
            row.delivered_amount = None
            row.delivered_tx = None
            row.delivered_block = None
            row.delivered_block_hash = None
        report.count(CaseStatus.PAYOUT_SENT.value)

    def _watch_quarantined(self, case_id: str, report: PayoutReport) -> datetime | None:
        """Read-only: a quarantined payout that lands is judged; nothing is ever sent."""
        with self.database.unit_of_work() as session:
            payout = self._payout(session, case_id)
            candidates = self._candidates(session, payout.id)
        if not candidates:
            return None
        adapter = self._adapter(payout.network)
        network = self.policy.networks[payout.network]
        success, failed = self._mined(adapter, candidates)
        if success is not None:
            if adapter.head() - success.block_number + 1 >= network.confirmations:
                return self._judge_effect(case_id, payout, adapter, success, report)
        elif failed is not None:
            self._failed(case_id, payout, adapter, failed, report)
            return None
        return self.clock() + timedelta(seconds=30)

    def _finality_poll(self, network: str) -> float:
        return max(self.policy.networks[network].block_time_seconds * 4, 5.0)

    # -- shared -------------------------------------------------------------------------

    def _hold(self, session: Session, case_id: str) -> None:
        if not leases.hold(session, case_id, owner=self.owner, now=self.clock(), lease=self.lease):
            raise leases.LeaseLost(case_id)

    def _witness(self, network: str) -> Witnesses:
        if network not in self._witnesses:
            self._witnesses[network] = Witnesses(self._adapter(network))
        return self._witnesses[network]

    def _store(
        self,
        session: Session,
        payout: PayoutRow,
        kind: str,
        signed: SignedPayout,
        fees: FeeParams,
        gas: int,
        recipient: str,
        value: int = 0,
    ) -> PayoutTransactionRow:
        row = PayoutTransactionRow(
            payout_id=payout.id,
            kind=kind,
            sender=signed.sender,
            nonce=signed.nonce,
            tx_hash=signed.tx_hash,
            raw=signed.raw_hex,
            fees={
                "max_fee_per_gas": fees.max_fee_per_gas,
                "max_priority_fee_per_gas": fees.max_priority_fee_per_gas,
                "gas_price": fees.gas_price,
                "gas": gas,
                "value": value,
            },
            recipient=recipient,
            state="pending",
            created_at=self.clock(),
        )
        session.add(row)
        session.flush()
        session.expunge(row)
        return row

    def _key_for(self, session: Session, address: str) -> None:
        row = session.get(DepositAddressRow, address)
        if row is None or row.hd_index is None:
            raise PayoutBlocked(
                f"deposit address {address} has no HD index in the registry; register it "
                "with hd_index so the service can derive its key"
            )
        derived = self.signer.register_deposit_index(row.hd_index)
        if derived.lower() != address.lower():
            raise PayoutBlocked(
                f"HD index {row.hd_index} derives {derived}, not {address}; fix the registry"
            )

    def _pace(self, row: PayoutTransactionRow) -> datetime:
        """When to look at a sent payout again: one block of its network from now."""
        with self.database.unit_of_work() as session:
            payout = session.get(PayoutRow, row.payout_id)
            network = payout.network if payout else None
        seconds = self.policy.networks[network].block_time_seconds if network else 5.0
        return self.clock() + timedelta(seconds=seconds)

    def _deposit_moved(self, case: Case | None, adapter: EvmAdapter) -> str | None:
        """Why the deposit no longer stands where it was verified, or None if it does."""
        facts = (case.facts if case else None) or {}
        block, expected = facts.get("block_number"), str(facts.get("block_hash", ""))
        if block is None or not expected:
            return None
        found = adapter.block_hashes([int(block)]).get(int(block))
        if found is not None and found.lower() == expected.lower():
            return None
        return (
            f"the deposit's block {block} on {case.network if case else '?'} is no longer "
            f"{expected} (now {found}); the payout is on hold until the deposit is verified again"
        )

    def _chain_id(self, network: str) -> int:
        chain_id = self.policy.networks[network].chain_id
        if chain_id is None:
            raise PayoutBlocked(f"{network} has no chain id in the policy")
        return chain_id

    def _adapter(self, network: str) -> EvmAdapter:
        adapter = self.adapters.get(network)
        if adapter is None:
            raise PayoutBlocked(f"no RPC endpoint is configured for {network}")
        return adapter

    def _payout(self, session: Session, case_id: str) -> PayoutRow:
        payout = session.scalars(select(PayoutRow).where(PayoutRow.case_id == case_id)).one()
        session.expunge(payout)
        return payout

    def _candidates(self, session: Session, payout_id: str) -> list[PayoutTransactionRow]:
        rows = list(
            session.scalars(
                select(PayoutTransactionRow)
                .where(
                    PayoutTransactionRow.payout_id == payout_id,
                    PayoutTransactionRow.kind == "transfer",
                )
                .order_by(PayoutTransactionRow.id)
            )
        )
        for row in rows:
            session.expunge(row)
        return rows

    def _move(
        self,
        case_id: str,
        target: CaseStatus,
        detail: str,
        report: PayoutReport,
        reason_code: str | None = None,
        *,
        actor: str = SYSTEM,
        next_check: datetime | None = None,
    ) -> None:
        with self.database.unit_of_work() as session:
            repository = CaseRepository(session)
            case = repository.get(case_id)
            assert case is not None
            case.transition(
                target, actor=actor, at=self.clock(), detail=detail, reason_code=reason_code
            )
            case.check_note = None
            repository.save(case)
        log.info("case %s -> %s: %s", case.reference, target.value, detail)
        report.count(target.value)

    def _note(self, case_id: str, note: str) -> None:
        with self.database.unit_of_work() as session:
            repository = CaseRepository(session)
            case: Case | None = repository.get(case_id)
            if case is not None and case.check_note != note:
                case.check_note = note
                repository.save(case)


def _gas_limit(payout: PayoutRow, simulated: int | None) -> int:
    """Gas for the payout transfer: a plain coin transfer, or a token's `transfer`."""
    if payout.token == NATIVE:
        return NATIVE_TRANSFER_GAS
    if simulated:
        return max(NATIVE_TRANSFER_GAS, simulated * (100 + GAS_HEADROOM_PERCENT) // 100)
    return TOKEN_TRANSFER_GAS


def _native(payout: PayoutRow) -> int:
    """The native value a payout's transfer carries (its amount for the native coin)."""
    return payout.amount if payout.token == NATIVE else 0


def _fee_fields(fees: Mapping[str, Any]) -> dict[str, int | None]:
    return {
        "max_fee_per_gas": fees.get("max_fee_per_gas"),
        "max_priority_fee_per_gas": fees.get("max_priority_fee_per_gas"),
        "gas_price": fees.get("gas_price"),
    }


def _max_cost(row: PayoutTransactionRow, payout: PayoutRow) -> int:
    gas = int(row.fees.get("gas") or _gas_limit(payout, None))
    return FeeParams(**_fee_fields(row.fees)).max_cost(gas)


def _value_of(row: PayoutTransactionRow) -> int:
    """The native value the stored signed transaction carries."""
    return int(row.fees.get("value") or 0)


def _raw(row: PayoutTransactionRow) -> bytes:
    return bytes.fromhex(row.raw.removeprefix("0x"))
