"""Paid means it arrived: a mined payout is judged by its effect at the refund address.

Rule kept here: a receipt with status 1 proves only that the call did not revert. What
arrived is read from the chain: for a token, the receipt's `Transfer` logs from the
deposit address to the refund address and the refund address's balance at the payout's
block against the block before; for the native coin, that balance change. The delivered
amount is the smaller of what the logs say and what the balance shows (a token that
logs more than it moves cannot inflate it; another transfer into the refund address in
the same block cannot either), and never more than the payout's own amount.
"""

from __future__ import annotations

from dataclasses import dataclass

from chains.evm.adapter import EvmAdapter
from chains.evm.payout import Receipt
from recovery.db.tables import PayoutRow
from recovery.domain.case import NATIVE


@dataclass(frozen=True)
class Delivery:
    """What one mined payout moved to the refund address, in base units."""

    amount: int
    logged: int | None  # sum of matching Transfer logs (None for the native coin)
    balance_change: int
    tx_hash: str
    block_number: int
    block_hash: str

    @property
    def had_effect(self) -> bool:
        """True when anything arrived."""
        return self.amount > 0

    def describe(self, payout: PayoutRow) -> str:
        """Words for the event the user reads."""
        logged = "" if self.logged is None else f", Transfer logs {self.logged}"
        return (
            f"{self.amount} base units arrived at {payout.destination} in {self.tx_hash} "
            f"(block {self.block_number}; balance change {self.balance_change}{logged})"
        )


def measure(adapter: EvmAdapter, payout: PayoutRow, receipt: Receipt) -> Delivery:
    """Read what the mined `receipt` delivered to the payout's destination."""
    block = receipt.block_number
    destination = payout.destination
    if payout.token == NATIVE:
        before = adapter.native_balance_at(destination, block - 1)
        after = adapter.native_balance_at(destination, block)
        logged: int | None = None
    else:
        before = adapter.token_balance_at(payout.token, destination, block - 1)
        after = adapter.token_balance_at(payout.token, destination, block)
        source = payout.source.lower()
        logged = sum(
            t.value
            for t in receipt.transfers
            if t.token.lower() == payout.token.lower()
            and t.sender.lower() == source
            and t.recipient.lower() == destination.lower()
        )
    change = after - before
    amount = max(0, min(change, payout.amount))
    if logged is not None:
        amount = min(amount, logged)
    return Delivery(
        amount=amount,
        logged=logged,
        balance_change=change,
        tx_hash=receipt.tx_hash,
        block_number=block,
        block_hash=receipt.block_hash,
    )
