"""Paid means it arrived: a mined payout is judged by its effect at the refund address.

Rule kept here: a receipt with status 1 proves only that the call did not revert.
- The native coin: a successful top-level value transfer credits its recipient by the
  transaction's value (the EVM does it before any code runs), so our own canonical,
  successful transaction to the refund address delivered its value. The refund address's
  balance change over the block is recorded beside it, not used: a busy address spending
  in the same block would make it look smaller.
- A token: what arrived is the smaller of the `Transfer` logs our transaction made from
  the deposit address to the refund address, and the refund address's balance change
  over the block with every other transaction's transfers of that token into and out of
  it in that block taken out. A token that logs more than it moves cannot inflate it;
  a busy refund address cannot deflate it; never more than the payout's own amount.
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
        amount = payout.amount if receipt.status == "success" else 0
        return Delivery(
            amount=amount,
            logged=None,
            balance_change=after - before,
            tx_hash=receipt.tx_hash,
            block_number=block,
            block_hash=receipt.block_hash,
        )
    before = adapter.token_balance_at(payout.token, destination, block - 1)
    after = adapter.token_balance_at(payout.token, destination, block)
    source = payout.source.lower()
    # A token reached through a front logs from its ledger, not from the address called.
    emitter = payout.log_token or payout.token
    logged = sum(
        t.value
        for t in receipt.transfers
        if t.token.lower() == emitter.lower()
        and t.sender.lower() == source
        and t.recipient.lower() == destination.lower()
    )
    # Take out what other transactions of the block moved into and out of the address.
    others = 0
    for tx_hash, transfer in adapter.token_transfers_in_block(
        emitter, receipt.block_hash, destination
    ):
        if tx_hash == receipt.tx_hash.lower():
            continue
        if transfer.recipient.lower() == destination.lower():
            others += transfer.value
        if transfer.sender.lower() == destination.lower():
            others -= transfer.value
    change = after - before
    ours = change - others
    amount = max(0, min(ours, logged, payout.amount))
    return Delivery(
        amount=amount,
        logged=logged,
        balance_change=change,
        tx_hash=receipt.tx_hash,
        block_number=block,
        block_hash=receipt.block_hash,
    )
