"""The policy model: look-ups, listed assets, content hash and the catalogue's own rules."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from policies import Policy, UnknownNetwork
from policies.model import CaseTypePolicy, FeeSchedule

ETH_USDT = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
BSC_USDT = "0x55d398326f99059fF775485246999027B3197955"


def test_network_lookup_returns_the_network(policy: Policy) -> None:
    assert policy.network("bsc").chain_id == 56
    assert policy.network("ethereum").native.symbol == "ETH"


def test_unknown_network_lists_known_ids(policy: Policy) -> None:
    with pytest.raises(UnknownNetwork) as caught:
        policy.network("ethereum-mainnet")
    message = str(caught.value)
    assert "'ethereum-mainnet'" in message
    assert "bsc" in message
    assert "ethereum" in message
    assert caught.value.network_id == "ethereum-mainnet"


@pytest.mark.parametrize(
    ("network", "token", "symbol", "decimals"),
    [
        ("ethereum", ETH_USDT, "USDT", 6),
        ("ethereum", ETH_USDT.lower(), "USDT", 6),
        ("ethereum", ETH_USDT.upper().replace("0X", "0x"), "USDT", 6),
        ("bsc", BSC_USDT, "USDT", 18),
        ("bsc", None, "BNB", 18),
        ("tron", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "USDT", 6),
    ],
)
def test_listed_finds_assets(
    policy: Policy, network: str, token: str | None, symbol: str, decimals: int
) -> None:
    asset = policy.network(network).listed(token)
    assert asset is not None
    assert (asset.symbol, asset.decimals) == (symbol, decimals)


@pytest.mark.parametrize(
    ("network", "token"),
    [
        ("ethereum", BSC_USDT),  # listed on bsc, not on ethereum
        ("bsc", ETH_USDT),
        ("tron", "tr7nhqjekqxgtci8q8zy4pl8otszgjlj6t"),  # base58: case matters
    ],
)
def test_listed_returns_none_for_unlisted(policy: Policy, network: str, token: str) -> None:
    assert policy.network(network).listed(token) is None


def test_native_asset_is_listed_without_address(policy: Policy) -> None:
    native = policy.network("polygon").listed(None)
    assert native is not None
    assert native.is_native
    assert native.symbol == "POL"


def test_explorer_url_fills_the_hash(policy: Policy) -> None:
    assert policy.network("ethereum").explorer_url("0xabc") == "https://etherscan.io/tx/0xabc"


def test_content_hash_is_stable_and_follows_content(policy_data: dict[str, Any]) -> None:
    first = Policy.model_validate(policy_data)
    second = Policy.model_validate(policy_data)
    assert first.content_hash == second.content_hash
    assert len(first.content_hash) == 64
    policy_data["networks"]["bsc"]["confirmations"] = 16
    assert Policy.model_validate(policy_data).content_hash != first.content_hash


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"class": "direct", "conditions": [{"id": "min_value", "value": "1"}]}, "direct"),
        ({"class": "conditional"}, "at least one condition"),
        ({"class": "unsupported"}, "needs a reason"),
        (
            {"class": "unsupported", "reason": "x", "conditions": [{"id": "min_value"}]},
            "takes no conditions",
        ),
        (
            {"class": "conditional", "conditions": [{"id": "ownership_proof"}] * 2},
            "repeat",
        ),
    ],
)
def test_case_type_policy_refuses_inconsistent_classes(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CaseTypePolicy.model_validate(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"brackets": [{"up_to": "10", "percent": "1"}]}, "open-ended"),
        ({"brackets": [{"percent": "1"}, {"percent": "2"}]}, "only the last"),
        (
            {"brackets": [{"up_to": "10", "percent": "1"}, {"up_to": "5", "percent": "1"}]},
            "must exceed",
        ),
        ({"min_fee": "10", "max_fee": "5"}, "below min_fee"),
        ({"flat": 0.1}, "float"),
        ({"brackets": [{"percent": "100"}]}, "less than 100"),
        ({"flat": "-1"}, "greater than or equal to 0"),
    ],
)
def test_fee_schedule_refuses_bad_shapes(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FeeSchedule.model_validate({"currency": "USD", **data})
