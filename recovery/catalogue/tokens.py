"""Asking a chain for an unlisted token's decimals, so a preview can value it."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from chains.base import ChainAdapter, TokenMetadata
from chains.errors import ChainError

# A uint256 holds 78 digits; a token claiming more decimals than that says nothing useful.
MAX_DECIMALS = 77


def sane_decimals(metadata: TokenMetadata | None) -> int | None:
    """A token's decimals when it states a usable number, else None (unknown)."""
    if metadata is None or metadata.decimals is None:
        return None
    return metadata.decimals if 0 <= metadata.decimals <= MAX_DECIMALS else None


class TokenDecimals:
    """`decimals()` of tokens, read once per token from the network's adapter and kept.

    Unknown (None) when the network has no adapter, the token has no `decimals()`, or
    the chain cannot be reached (then it is asked again next time).
    """

    def __init__(self, adapters: Mapping[str, ChainAdapter]) -> None:
        self.adapters = adapters
        self._known: dict[tuple[str, str], int | None] = {}
        self._lock = threading.Lock()

    def __call__(self, network: str, token: str) -> int | None:
        key = (network, token.lower())
        with self._lock:
            if key in self._known:
                return self._known[key]
        adapter = self.adapters.get(network)
        if adapter is None:
            return None
        try:
            decimals = sane_decimals(adapter.token_metadata(token))
        except ChainError:
            return None
        with self._lock:
            self._known[key] = decimals
        return decimals
