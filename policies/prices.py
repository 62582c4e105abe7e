"""Where prices come from: a small protocol, and the static table shipped in the policy."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from policies.model import Policy, normalize_address


class PriceSource(Protocol):
    """Gives the quote-currency value of ONE whole token, or None when it has no price."""

    def price(self, network: str, token: str | None) -> Decimal | None:
        """Price of the token (contract address; None: native asset) on a network."""
        ...


class StaticPriceSource:
    """Prices from the policy's static table.

    The native asset and listed assets are priced by symbol (`prices.by_symbol`), unlisted
    tokens by network and contract address (`prices.by_token`).
    """

    def __init__(self, policy: Policy) -> None:
        self._policy = policy

    def price(self, network: str, token: str | None) -> Decimal | None:
        """Price of the token on a network from the static table; None when absent."""
        entry = self._policy.networks.get(network)
        if entry is None:
            return None
        listed = entry.listed(token)
        if listed is not None:
            return self._policy.prices.by_symbol.get(listed.symbol)
        assert token is not None  # listed() returns the native asset for None
        return self._policy.prices.by_token.get(network, {}).get(normalize_address(token))
