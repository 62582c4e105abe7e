"""Gas is gas: a top-up from the gas wallet covers only a payout's gas, one in flight per
deposit address, tracked, re-broadcast and bumped on its own.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from chains.evm.adapter import EvmAdapter
from chains.evm.payout import (
    NATIVE_TRANSFER_GAS,
    FeeParams,
    broadcast_payout,
    bumped,
    native_transfer_tx,
)
from recovery.db.tables import (
    DepositAddressRow,
    PayoutRow,
    PayoutTransactionRow,
)
from recovery.payouts.nonces import NonceGap, allocate_nonce
from recovery.payouts.steps import (
    PayoutBlocked,
    PayoutReport,
    PayoutSteps,
    _fee_fields,
    _native,
    _raw,
    _value_of,
    log,
)


class GasTopUps(PayoutSteps):
    """Getting gas to a deposit address before its payout is signed or bumped."""

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
        value = _native(payout)
        if balance < value:
            # The address no longer holds the payout itself: the gas wallet never pays it.
            raise PayoutBlocked(
                f"{payout.source} holds {balance} wei, less than the payout's {value}: nothing "
                "is sent and no gas is topped up; an operator should look (the deposit may "
                "have been moved or reorged away after signing)"
            )
        gas_value = required - balance
        wallet = self.signer.gas_wallet_address
        witnesses = self._witness(payout.network)
        chain = witnesses.nonces(wallet, finality_depth=self.finality_depth)
        fees = self._capped_fees(payout.network, adapter.fee_params())
        chain_id = self._chain_id(payout.network)
        try:
            with self.database.unit_of_work() as session:
                self._hold(session, case_id)
                # One top-up in flight per deposit address, decided under the address's lock.
                session.get(DepositAddressRow, payout.source, with_for_update=True)
                if self._topups_in_flight(session, payout.network, payout.source):
                    raise PayoutBlocked(f"a gas top-up to {payout.source} is already on its way")
                nonce = allocate_nonce(session, payout.network, wallet, chain, witnesses.knows_any)
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
                .join(PayoutRow, col(PayoutRow.id) == col(PayoutTransactionRow.payout_id))
                .where(
                    col(PayoutRow.network) == network,
                    col(PayoutTransactionRow.kind) == "gas_topup",
                    col(PayoutTransactionRow.state) == "pending",
                    func.lower(col(PayoutTransactionRow.recipient)) == address.lower(),
                )
                .order_by(col(PayoutTransactionRow.id))
            )
        )
        for row in rows:
            session.expunge(row)
        return rows
