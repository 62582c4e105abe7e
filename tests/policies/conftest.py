"""Builders shared by the policy tests: the shipped policy, facts and raw policy data."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from policies import Facts, Policy, StaticPriceSource, load_policy
from policies.loader import DEFAULT_PATH

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
ETH_USDT = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
BSC_USDT = "0x55d398326f99059fF775485246999027B3197955"
REFUND = "0x000000000000000000000000000000000000dEaD"

_SHIPPED: dict[str, Any] = yaml.safe_load(DEFAULT_PATH.read_text())


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy()


@pytest.fixture(scope="session")
def prices(policy: Policy) -> StaticPriceSource:
    return StaticPriceSource(policy)


@pytest.fixture
def policy_data() -> dict[str, Any]:
    """A fresh, mutable copy of the shipped networks.yaml as plain data."""
    return copy.deepcopy(_SHIPPED)


@pytest.fixture
def write_yaml(tmp_path: Path) -> Callable[..., Path]:
    def write(data: Any, name: str = "policy.yaml") -> Path:
        path = tmp_path / name
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
        return path

    return write


def build_facts(**overrides: Any) -> Facts:
    """A wrong-network USDT deposit: BSC transfer to an address opened for Ethereum."""
    values: dict[str, Any] = {
        "case_type": "wrong_network",
        "network": "bsc",
        "opened_for": "ethereum",
        "token": BSC_USDT,
        "token_decimals": 18,
        "amount": 1000 * 10**18,
        "refund_address": REFUND,
        "deposit_address_is_contract": False,
        "token_transferable": True,
        "transfer_time": NOW - timedelta(days=1),
        "now": NOW,
    }
    values.update(overrides)
    return Facts(**values)


@pytest.fixture
def make_facts() -> Callable[..., Facts]:
    return build_facts
