"""The payout engine: top up gas, sign, write down, broadcast, track to finality.

Order of work for one payout, each step its own database transaction:
1. `approved -> payout_pending`.
2. If the deposit address lacks gas: a top-up from the gas wallet, signed and stored
   before it is broadcast; the transfer waits until the top-up is mined.
3. The transfer: a nonce from the database, signed, stored with its hash, committed,
   and only then broadcast. `payout_pending -> payout_sent`.
4. Tracking: any candidate hash final -> `paid` (and the fee booked); a failed receipt ->
   `payout_failed`; a transaction that vanished -> back to `payout_pending`, where the
   SAME signed bytes are broadcast again; a stuck one -> the same nonce re-signed with
   higher fees, as another candidate.
After a crash the stored transaction is broadcast again or found by its hash, so a case
is never paid twice and never paid another amount than the one frozen at approval.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chains.errors import ChainError
from chains.evm.adapter import EvmAdapter
from chains.evm.payout import (
    NATIVE_TRANSFER_GAS,
    BroadcastOutcome,
    FeeParams,
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
from recovery.domain.states import CaseStatus
from recovery.payouts.nonces import allocate_nonce
from recovery.verification.claims import claim_due, release

log = logging.getLogger(__name__)
SYSTEM = "system:payouts"
TOKEN_TRANSFER_GAS = 100_000


def no_crash(point: str) -> None:
    """The default crash hook: do nothing (tests pass one that kills the process)."""


@dataclass
class PayoutReport:
    """What one payout cycle did."""

    claimed: int = 0
    broadcast: int = 0
    moved: dict[str, int] = field(default_factory=dict)
    errors: int = 0

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

    # -- the cycle ----------------------------------------------------------------------

    def payout_cycle(self, limit: int = 200) -> PayoutReport:
        """Send due payouts and track sent ones; each case in its own try block."""
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
        report.claimed = len(ids)
        for case_id in ids:
            next_check: datetime | None = self.clock() + self.retry
            try:
                next_check = self._work(case_id, report)
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
        return None

    # -- sending ------------------------------------------------------------------------

    def _send(self, case_id: str, report: PayoutReport) -> datetime | None:
        with self.database.unit_of_work() as session:
            payout = self._payout(session, case_id)
            candidates = self._candidates(session, payout.id, "transfer")
            topups = self._candidates(session, payout.id, "gas_topup")
            case = CaseRepository(session).get(case_id)
        adapter = self._adapter(payout.network)
        if candidates:
            # Signed before (maybe broadcast, maybe not): the same bytes go out again.
            return self._broadcast(case_id, candidates[-1], candidates, adapter, report)
        moved = self._deposit_moved(case, adapter)
        if moved is not None:
            # Nothing is signed yet: safe to stop here and verify the deposit again.
            self._move(case_id, CaseStatus.ON_HOLD, moved, report, reason_code="reorged")
            return None
        gas, fees = self._gas(adapter, payout)
        needed = fees.max_cost(gas) + (payout.amount if payout.token == NATIVE else 0)
        balance = adapter.native_balance(payout.source)
        if balance < needed:
            if topups:
                receipts = adapter.receipts([t.tx_hash for t in topups])
                if not any(r is not None and r.status == "success" for r in receipts.values()):
                    result = broadcast_payout(adapter, _raw(topups[-1]))
                    raise PayoutBlocked(
                        f"waiting for the gas top-up {topups[-1].tx_hash} ({result.outcome})"
                    )
                balance = adapter.native_balance(payout.source)
            if balance < needed:
                topup = self._sign_topup(payout, adapter, needed - balance)
                self.crash_hook("after_store")
                broadcast_payout(adapter, _raw(topup))
                self.crash_hook("after_broadcast")
                raise PayoutBlocked(f"topping up gas of {payout.source}: {topup.tx_hash}")
        transfer = self._sign_transfer(payout, adapter, gas, fees)
        self.crash_hook("after_store")
        return self._broadcast(case_id, transfer, [transfer], adapter, report)

    def _broadcast(
        self,
        case_id: str,
        chosen: PayoutTransactionRow,
        candidates: list[PayoutTransactionRow],
        adapter: EvmAdapter,
        report: PayoutReport,
    ) -> datetime | None:
        result = broadcast_payout(adapter, _raw(chosen))
        self.crash_hook("after_broadcast")
        report.broadcast += 1
        if result.outcome == BroadcastOutcome.NOT_SENT:
            raise PayoutBlocked(f"no node reachable: {result.detail}")
        if result.outcome == BroadcastOutcome.ACCEPTED:
            self._sent(case_id, chosen, report)
            return self._pace(chosen)
        # LOOK_UP, AMBIGUOUS, REJECTED: only the hashes we made can tell what happened.
        known = self._seen_on_chain(adapter, [c.tx_hash for c in candidates])
        if known is not None:
            self._sent(case_id, chosen, report)
            return self.clock()
        if result.outcome == BroadcastOutcome.REJECTED:
            raise PayoutBlocked(f"node refused payout {chosen.tx_hash}: {result.detail}")
        self._move(
            case_id,
            CaseStatus.QUARANTINED,
            f"outcome of payout {chosen.tx_hash} cannot be known ({result.outcome}: "
            f"{result.detail}); an operator must check the chain before anything is resent",
            report,
        )
        return None

    def _sent(self, case_id: str, chosen: PayoutTransactionRow, report: PayoutReport) -> None:
        with self.database.unit_of_work() as session:
            row = session.get(PayoutTransactionRow, chosen.id)
            if row is not None and row.broadcast_at is None:
                row.broadcast_at = self.clock()
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

    # -- tracking -----------------------------------------------------------------------

    def _track(self, case_id: str, report: PayoutReport) -> datetime | None:
        with self.database.unit_of_work() as session:
            payout = self._payout(session, case_id)
            candidates = self._candidates(session, payout.id, "transfer")
        adapter = self._adapter(payout.network)
        network = self.policy.networks[payout.network]
        receipts = adapter.receipts([c.tx_hash for c in candidates])
        mined = [r for r in receipts.values() if r is not None]
        success = next((r for r in mined if r.status == "success"), None)
        if success is not None:
            confirmations = adapter.head() - success.block_number + 1
            if confirmations >= network.confirmations:
                self._paid(case_id, payout, success.tx_hash, report)
                return None
            return self.clock() + timedelta(seconds=network.block_time_seconds)
        if mined:
            self._move(
                case_id,
                CaseStatus.PAYOUT_FAILED,
                f"payout {mined[0].tx_hash} was mined but failed; an operator must look",
                report,
            )
            return None
        latest = candidates[-1]
        if adapter.transaction_by_hash(latest.tx_hash) is None and not any(
            adapter.transaction_by_hash(c.tx_hash) for c in candidates[:-1]
        ):
            self._move(
                case_id,
                CaseStatus.PAYOUT_PENDING,
                f"payout {latest.tx_hash} is no longer known to the node (dropped or "
                "reorged out); the same signed transaction will be broadcast again",
                report,
            )
            return self.clock()
        if self.clock() - latest.created_at >= self.bump_after:
            bump = self._sign_bump(payout, latest)
            self.crash_hook("after_store")
            broadcast_payout(adapter, _raw(bump))
            report.broadcast += 1
        return self.clock() + timedelta(seconds=network.block_time_seconds)

    def _paid(self, case_id: str, payout: PayoutRow, tx_hash: str, report: PayoutReport) -> None:
        now = self.clock()
        with self.database.unit_of_work() as session:
            repository = CaseRepository(session)
            case = repository.get(case_id)
            assert case is not None
            case.transition(
                CaseStatus.PAID,
                actor=SYSTEM,
                at=now,
                detail=f"{payout.amount} base units reached {payout.destination} in {tx_hash}",
            )
            repository.save(case)
            session.add(
                LedgerEntryRow(
                    case_id=case_id,
                    kind="fee",
                    network=payout.network,
                    token=payout.token,
                    amount=payout.fee_amount,
                    created_at=now,
                )
            )
        report.count(CaseStatus.PAID.value)

    # -- signing ------------------------------------------------------------------------

    def _gas(self, adapter: EvmAdapter, payout: PayoutRow) -> tuple[int, FeeParams]:
        return _gas_limit(payout), adapter.fee_params()

    def _sign_transfer(
        self, payout: PayoutRow, adapter: EvmAdapter, gas: int, fees: FeeParams
    ) -> PayoutTransactionRow:
        chain_id = self._chain_id(payout.network)
        with self.database.unit_of_work() as session:
            self._key_for(session, payout.source)
            nonce = allocate_nonce(
                session, payout.network, payout.source, lambda: adapter.nonce(payout.source)
            )
            tx = self._transfer_tx(payout, nonce, fees, gas, chain_id)
            signed = self.signer.sign_transaction(payout.source, tx, chain_id)
            return self._store(session, payout, "transfer", signed, fees)

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

    def _sign_bump(self, payout: PayoutRow, latest: PayoutTransactionRow) -> PayoutTransactionRow:
        fees = bumped(FeeParams(**latest.fees))
        chain_id = self._chain_id(payout.network)
        gas = _gas_limit(payout)
        tx = self._transfer_tx(payout, latest.nonce, fees, gas, chain_id)
        signed = self.signer.sign_transaction(payout.source, tx, chain_id)
        with self.database.unit_of_work() as session:
            return self._store(session, payout, "transfer", signed, fees)

    def _sign_topup(
        self, payout: PayoutRow, adapter: EvmAdapter, value: int
    ) -> PayoutTransactionRow:
        chain_id = self._chain_id(payout.network)
        fees = adapter.fee_params()
        wallet = self.signer.gas_wallet_address
        with self.database.unit_of_work() as session:
            nonce = allocate_nonce(session, payout.network, wallet, lambda: adapter.nonce(wallet))
            tx = native_transfer_tx(
                sender=wallet,
                recipient=payout.source,
                value=value,
                nonce=nonce,
                fees=fees,
                chain_id=chain_id,
            )
            signed = self.signer.sign_transaction(wallet, tx, chain_id)
            return self._store(session, payout, "gas_topup", signed, fees)

    def _store(
        self,
        session: Session,
        payout: PayoutRow,
        kind: str,
        signed: SignedPayout,
        fees: FeeParams,
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
            },
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

    # -- shared -------------------------------------------------------------------------

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

    def _candidates(
        self, session: Session, payout_id: str, kind: str
    ) -> list[PayoutTransactionRow]:
        rows = list(
            session.scalars(
                select(PayoutTransactionRow)
                .where(
                    PayoutTransactionRow.payout_id == payout_id, PayoutTransactionRow.kind == kind
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
    ) -> None:
        with self.database.unit_of_work() as session:
            repository = CaseRepository(session)
            case = repository.get(case_id)
            assert case is not None
            case.transition(
                target, actor=SYSTEM, at=self.clock(), detail=detail, reason_code=reason_code
            )
            case.check_note = None
            repository.save(case)
        report.count(target.value)

    def _note(self, case_id: str, note: str) -> None:
        with self.database.unit_of_work() as session:
            repository = CaseRepository(session)
            case: Case | None = repository.get(case_id)
            if case is not None and case.check_note != note:
                case.check_note = note
                repository.save(case)


def _gas_limit(payout: PayoutRow) -> int:
    """Gas for the payout transfer: a plain coin transfer, or a token's `transfer`."""
    return NATIVE_TRANSFER_GAS if payout.token == NATIVE else TOKEN_TRANSFER_GAS


def _raw(row: PayoutTransactionRow) -> bytes:
    return bytes.fromhex(row.raw.removeprefix("0x"))
