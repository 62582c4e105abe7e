"""The static price source reads the policy's table by symbol and by token address."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from policies import Policy, PriceSource, StaticPriceSource


@pytest.mark.parametrize(
    ("network", "token", "price"),
    [
        ("ethereum", None, Decimal(3000)),
        ("arbitrum", None, Decimal(3000)),
        ("bsc", None, Decimal(600)),
        ("ethereum", "0xdAC17F958D2ee523a2206206994597C13D831ec7", Decimal(1)),
        ("bsc", "0x55d398326f99059ff775485246999027b3197955", Decimal(1)),
        ("ethereum", "0x" + "77" * 20, None),  # unlisted and not in by_token
        ("atlantis", None, None),
    ],
)
def test_static_prices(policy: Policy, network: str, token: str | None, price: Any) -> None:
    source: PriceSource = StaticPriceSource(policy)
    assert source.price(network, token) == price


def test_unlisted_tokens_are_priced_by_address(policy_data: dict[str, Any]) -> None:
    token = "0x" + "Ab" * 20
    policy_data["prices"]["by_token"] = {"polygon": {token: "0.5"}}
    source = StaticPriceSource(Policy.model_validate(policy_data))
    assert source.price("polygon", token.lower()) == Decimal("0.5")
    assert source.price("ethereum", token) is None
