"""The payout engine's shared parts: its settings, its report, and the small steps every
stage uses (hold the lease, store a signed transaction, move a case, read the payout).
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
from sqlmodel import col

from chains.evm.adapter import EvmAdapter
from chains.evm.payout import (
    NATIVE_TRANSFER_GAS,
    BroadcastOutcome,
    BroadcastResult,
    FeeParams,
    broadcast_payout,
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
    PayoutRow,
    PayoutTransactionRow,
)
from recovery.domain.case import NATIVE, Case
from recovery.domain.states import CaseStatus
from recovery.payouts import lease as leases
from recovery.payouts.evidence import Witnesses
from recovery.payouts.nonces import NonceGap

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


class PayoutSteps:
    """What every stage of the payout engine shares; the stages subclass it in turn."""

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

    def _seen_on_chain(self, adapter: EvmAdapter, hashes: list[str]) -> str | None:
        receipts = adapter.receipts(hashes)
        for tx_hash, receipt in receipts.items():
            if receipt is not None:
                return tx_hash
        for tx_hash in hashes:
            if adapter.transaction_by_hash(tx_hash) is not None:
                return tx_hash
        return None

    def _finality_poll(self, network: str) -> float:
        return max(self.policy.networks[network].block_time_seconds * 4, 5.0)

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
        payout = session.scalars(select(PayoutRow).where(col(PayoutRow.case_id) == case_id)).one()
        session.expunge(payout)
        return payout

    def _candidates(self, session: Session, payout_id: str) -> list[PayoutTransactionRow]:
        rows = list(
            session.scalars(
                select(PayoutTransactionRow)
                .where(
                    col(PayoutTransactionRow.payout_id) == payout_id,
                    col(PayoutTransactionRow.kind) == "transfer",
                )
                .order_by(col(PayoutTransactionRow.id))
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
