"""Chain adapters behind one interface, and the local devnet harness used by tests."""

from chains.base import ChainAdapter, TokenMetadata, TokenTransfer, TransactionFacts
from chains.errors import (
    BroadcastAmbiguous,
    BroadcastRejected,
    ChainError,
    InvalidChainInput,
    RpcError,
    RpcUnavailable,
    UnexpectedResponse,
)

__all__ = [
    "BroadcastAmbiguous",
    "BroadcastRejected",
    "ChainAdapter",
    "ChainError",
    "InvalidChainInput",
    "RpcError",
    "RpcUnavailable",
    "TokenMetadata",
    "TokenTransfer",
    "TransactionFacts",
    "UnexpectedResponse",
]
