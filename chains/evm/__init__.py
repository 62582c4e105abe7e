"""EVM networks: the adapter over JSON-RPC and the readers of logs and token data."""

from chains.evm.adapter import EvmAdapter

__all__ = ["EvmAdapter"]
