"""The payout engine: sequences the steps of a payout; each step keeps one rule in its module.

The stages are layered classes, one file each: `steps` (shared parts), `gas` (top-ups),
`tracking` (receipts, effect, bumps), `finality` (paid and quarantined watches), and this
`engine` (the cycle, sending, signing). The rules live in `preflight`, `lease`, `nonces`,
`delivery`, `settle` and `evidence`.

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

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col

from chains.errors import ChainError
from chains.evm.adapter import EvmAdapter
from chains.evm.payout import (
    BroadcastOutcome,
    BroadcastResult,
    FeeParams,
    broadcast_payout,
)
from recovery.appeals.refund_addresses import refusal
from recovery.appeals.repository import CaseRepository
from recovery.db.tables import (
    PayoutRow,
    PayoutTransactionRow,
)
from recovery.domain.case import NATIVE
from recovery.domain.reasons import ReasonCode
from recovery.domain.states import CaseStatus
from recovery.payouts import lease as leases
from recovery.payouts.finality import Finality
from recovery.payouts.nonces import NonceGap, allocate_nonce
from recovery.payouts.preflight import Claim, preflight
from recovery.payouts.steps import (
    SYSTEM,
    PayoutBlocked,
    PayoutReport,
    _gas_limit,
    _max_cost,
    _native,
    _raw,
    log,
    no_crash,
)
from recovery.verification.claims import claim_due, release

__all__ = ["PayoutBlocked", "PayoutEngine", "PayoutReport", "no_crash"]


class PayoutEngine(Finality):
    """Runs payouts for the networks it has adapters for: sequences the stages."""

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
                if not self._stalled(case_id, str(blocked), report):
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
        refused = self._refund_refused(payout)
        if refused is not None:
            self._back_to_review(case_id, *refused, report)
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
            checked = preflight(session, adapter, claim, payout_amount=payout.amount)
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

    def _refund_refused(self, payout: PayoutRow) -> tuple[str, str] | None:
        """(reason code, detail) when the refund address is one never paid (checked again
        here: deposit addresses and wallets may have been added since the filing)."""
        tokens = [t for t in (payout.token, payout.log_token) if t and t != NATIVE]
        with self.database.unit_of_work() as session:
            return refusal(
                session,
                payout.destination,
                tokens=tokens,
                service_addresses=[self.signer.gas_wallet_address, payout.source],
            )

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
        if self._nonce_taken_by_others(payout, candidates):
            self._abandon_nonce(case_id, payout, report)
            return self.clock()
        value = payout.amount if payout.token == NATIVE else 0
        balance = adapter.native_balance(payout.source)
        affordable = [c for c in reversed(candidates) if value + _max_cost(c, payout) <= balance]
        if not affordable:
            newest = candidates[-1]
            self._gas_ready(case_id, payout, adapter, value + _max_cost(newest, payout), report)
            affordable = [newest]
        return self._broadcast(case_id, affordable[0], candidates, adapter, report, affordable)

    def _nonce_taken_by_others(
        self, payout: PayoutRow, candidates: list[PayoutTransactionRow]
    ) -> bool:
        """True only on complete evidence: every endpoint counts past the payout's nonce at
        its final block and none knows any of its candidates, so none can ever be mined."""
        if payout.nonce is None:
            return False
        witnesses = self._witness(payout.network)
        nonces = witnesses.nonces(payout.source, finality_depth=self.finality_depth)
        # Used for good: counted at the final block, so no reorg can give the nonce back.
        if not nonces.complete or nonces.lowest_final <= payout.nonce:
            return False
        return witnesses.knows_any([c.tx_hash for c in candidates]) is False

    def _abandon_nonce(self, case_id: str, payout: PayoutRow, report: PayoutReport) -> None:
        """The payout's nonce went to a transaction not its own: sign it anew, once."""
        with self.database.unit_of_work() as session:
            self._hold(session, case_id)
            row = session.get(PayoutRow, payout.id, with_for_update=True, populate_existing=True)
            assert row is not None
            old = row.nonce
            session.execute(
                update(PayoutTransactionRow)
                .where(
                    col(PayoutTransactionRow.payout_id) == payout.id,
                    col(PayoutTransactionRow.kind) == "transfer",
                )
                .values(kind="failed_transfer")
            )
            row.nonce = None
            repository = CaseRepository(session)
            case = repository.get(case_id)
            assert case is not None
            case.transition(
                CaseStatus.PAYOUT_PENDING,
                actor=SYSTEM,
                at=self.clock(),
                detail=f"nonce {old} of {payout.source} was used by a transaction that is not "
                "this payout's (every endpoint counts past it and knows none of its "
                "transactions, so none can be mined); the payout is signed again with a new "
                "nonce",
            )
            repository.save(case)
        log.warning("payout of case %s: nonce %s consumed by others; re-signing", case_id, old)
        report.count(CaseStatus.PAYOUT_PENDING.value)

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
        )
        return self.clock() + timedelta(seconds=30)

    def _stalled(self, case_id: str, why: str, report: PayoutReport) -> bool:
        """A signed payout blocked since `stall_after` goes to an operator; True if it did.

        Whatever blocks it (a nonce gap, refusals by every node, a balance that left after
        signing), a payout never waits in silence: quarantined, it is still watched on
        chain and never sent again on its own.
        """
        with self.database.unit_of_work() as session:
            case = CaseRepository(session).get(case_id)
            if case is None or case.status != CaseStatus.PAYOUT_PENDING:
                return False
            payout = self._payout(session, case_id)
            candidates = self._candidates(session, payout.id)
        if not candidates or self.clock() - candidates[0].created_at < self.stall_after:
            return False
        self._move(
            case_id,
            CaseStatus.QUARANTINED,
            f"payout nonce {candidates[0].nonce} from {payout.source}, signed "
            f"{candidates[0].created_at.isoformat()}, has been blocked since: {why}; it is "
            "watched on chain and an operator decides",
            report,
            reason_code=ReasonCode.PAYOUT_STALLED,
        )
        return True

    def _sent(self, case_id: str, chosen: PayoutTransactionRow, report: PayoutReport) -> None:
        self._move(case_id, CaseStatus.PAYOUT_SENT, f"payout {chosen.tx_hash} broadcast", report)

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

    def _sign_first(
        self, case_id: str, payout: PayoutRow, adapter: EvmAdapter, gas: int, fees: FeeParams
    ) -> PayoutTransactionRow:
        """Give the payout its one nonce and sign it, where the lease is held and checked."""
        witnesses = self._witness(payout.network)
        chain = witnesses.nonces(payout.source, finality_depth=self.finality_depth)
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
                nonce = allocate_nonce(
                    session, payout.network, payout.source, chain, witnesses.knows_any
                )
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
