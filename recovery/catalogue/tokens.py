"""Asking a chain for an unlisted token's decimals, so a preview can value it."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from chains.base import ChainAdapter
from chains.errors import ChainError


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
            decimals = adapter.token_metadata(token).decimals
        except ChainError:
            return None
        with self._lock:
            self._known[key] = decimals
        return decimals
