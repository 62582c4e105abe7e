"""What the operators' payout API returns."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class PayoutTransactionPublic(BaseModel):
    """One signed transaction of a payout: the transfer, a fee bump, or a gas top-up."""

    kind: str = Field(description="transfer | failed_transfer | gas_topup")
    tx_hash: str
    sender: str
    recipient: str | None
    nonce: int
    max_fee_per_gas: str | None
    max_priority_fee_per_gas: str | None
    gas_price: str | None
    value: str = Field(description="Native value it carries, in wei.")
    state: str = Field(description="pending | mined | abandoned (tracked for gas top-ups)")
    broadcast_at: datetime | None
    broadcast_error: str | None = Field(description="The last node refusal of it, if any.")
    explorer_url: str
    created_at: datetime


class PayoutPublic(BaseModel):
    """A case's payout as operators see it."""

    case_id: str
    reference: str
    status: str
    network: str
    token: str
    source: str
    destination: str
    amount: str = Field(description="The net payout frozen at approval, in base units.")
    fee_amount: str
    nonce: int | None = Field(description="The payout's one nonce, once signed.")
    delivered_amount: str | None = Field(description="What the chain shows arrived.")
    delivered_tx: str | None
    final: bool
    retry_requested_by: str | None
    transactions: list[PayoutTransactionPublic]
    created_at: datetime


class PayoutPage(BaseModel):
    """Payouts, newest first."""

    items: list[PayoutPublic]


class GasWalletPublic(BaseModel):
    """The gas wallet of one network and what it holds."""

    network: str
    address: str
    balance: str | None = Field(description="Wei at the head; null when the node is unreachable.")
    error: str | None = None
    pending_top_ups: int


class GasWalletList(BaseModel):
    """The gas wallet on every served network."""

    items: list[GasWalletPublic]
