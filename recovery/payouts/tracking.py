"""Tracking a sent payout: canonical receipts, what arrived, failures, and fee bumps on the
payout's one nonce within the cap and what the sender can afford.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import col

from chains.errors import ChainError
from chains.evm.adapter import EvmAdapter
from chains.evm.payout import (
    FeeParams,
    Receipt,
    broadcast_payout,
    bumped,
)
from recovery.db.tables import (
    PayoutRow,
    PayoutTransactionRow,
)
from recovery.domain.case import NATIVE
from recovery.domain.reasons import ReasonCode
from recovery.domain.states import CaseStatus
from recovery.payouts.delivery import Delivery, measure
from recovery.payouts.evidence import canonical_receipts
from recovery.payouts.gas import GasTopUps
from recovery.payouts.settle import record_paid
from recovery.payouts.steps import (
    SYSTEM,
    PayoutBlocked,
    PayoutReport,
    _fee_fields,
    _gas_limit,
    _native,
    _raw,
    log,
)


class Tracking(GasTopUps):
    """From `payout_sent` to `paid` or `payout_failed`, judged by the chain."""

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
            )
            return self.clock() + timedelta(seconds=30)
        if self.clock() - latest.created_at >= self.bump_after:
            self._bump(case_id, payout, candidates, adapter, report)
        return self.clock() + timedelta(seconds=network.block_time_seconds)

    def _mined(
        self, adapter: EvmAdapter, candidates: list[PayoutTransactionRow]
    ) -> tuple[Receipt | None, Receipt | None]:
        """The canonical successful and failed receipts among the candidates."""
        return canonical_receipts(adapter, [c.tx_hash for c in candidates])

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
                        col(PayoutTransactionRow.payout_id) == payout.id,
                        col(PayoutTransactionRow.kind) == "gas_topup",
                    )
                )
            ]
        receipts = adapter.receipts([tx_hash, *topups])
        return sum((r.fee_paid or 0) for r in receipts.values() if r is not None)

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
