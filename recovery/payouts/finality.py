"""Mined, confirmed, final: a paid payout is watched until its block is final, and a
quarantined one is watched (never sent) until it lands or an operator settles it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import col

from recovery.appeals.repository import CaseRepository
from recovery.db.tables import (
    LedgerEntryRow,
    PayoutRow,
)
from recovery.domain.reasons import ReasonCode
from recovery.domain.states import CaseStatus
from recovery.payouts.steps import (
    SYSTEM,
    PayoutReport,
    log,
)
from recovery.payouts.tracking import Tracking


class Finality(Tracking):
    """Watching paid and quarantined payouts."""

    def _watch_paid(self, case_id: str, report: PayoutReport) -> datetime | None:
        """A paid payout until its block is final; a reorg before that tracks it again."""
        with self.database.unit_of_work() as session:
            payout = self._payout(session, case_id)
        if payout.final_at is not None or payout.orphaned_at is not None:
            return None
        if payout.delivered_tx is None:
            return None
        adapter = self._adapter(payout.network)
        block = payout.delivered_block or 0
        later = self.clock() + timedelta(seconds=self._finality_poll(payout.network))
        canonical = adapter.block_hashes([block]).get(block)
        if canonical is None:
            return later  # the node is below the block: lag proves nothing
        if canonical == payout.delivered_block_hash:
            if adapter.receipts([payout.delivered_tx]).get(payout.delivered_tx) is None:
                return later  # the block stands; a node without the receipt is the node's fault
        else:
            # A node at or above the block shows another block there: it was reorged out.
            with self.database.unit_of_work() as session:
                case = CaseRepository(session).get(case_id)
            if case is not None and self._deposit_moved(case, adapter) is not None:
                self._orphaned(case_id, case.reference, payout, block)
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

    def _orphaned(self, case_id: str, reference: str, payout: PayoutRow, block: int) -> None:
        """The deposit is gone as well as the payout: a reset chain (a devnet started afresh)
        or a reorg deeper than both. Sending it again could spend funds that are not this
        case's: it is flagged for an operator and never sent again."""
        detail = (
            f"the {payout.network} chain no longer shows this case's deposit nor its payout "
            f"{payout.delivered_tx} (block {block}): a reset chain or a very deep reorg; "
            "nothing is sent again, an operator should look"
        )
        with self.database.unit_of_work() as session:
            row = session.get(PayoutRow, payout.id)
            assert row is not None
            row.orphaned_at = self.clock()
        log.error("case %s: %s", reference, detail)
        self._note(case_id, detail)

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
            session.execute(delete(LedgerEntryRow).where(col(LedgerEntryRow.case_id) == case_id))
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
