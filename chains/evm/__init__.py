"""EVM networks: the adapter over JSON-RPC and the readers of logs and token data."""

from chains.evm.adapter import EvmAdapter
from chains.evm.payout import (
    BroadcastOutcome,
    BroadcastResult,
    FeeParams,
    InvalidPayoutTransaction,
    Receipt,
    TransferSimulation,
    broadcast_payout,
    bumped,
    erc20_transfer_tx,
    native_transfer_tx,
    revert_reason,
)

__all__ = [
    "BroadcastOutcome",
    "BroadcastResult",
    "EvmAdapter",
    "FeeParams",
    "InvalidPayoutTransaction",
    "Receipt",
    "TransferSimulation",
    "broadcast_payout",
    "bumped",
    "erc20_transfer_tx",
    "native_transfer_tx",
    "revert_reason",
]
