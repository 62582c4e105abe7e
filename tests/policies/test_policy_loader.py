"""Loading policy files: the shipped data, overlays, and one-line errors for bad files."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from policies import (
    Policy,
    PolicyError,
    PolicyFileError,
    RecoveryClass,
    StaticPriceSource,
    UnknownConditionError,
    class_counts,
    load_policy,
)
from policies.loader import DEFAULT_PATH
from policies.model import CaseType

WriteYaml = Callable[..., Path]


def test_shipped_data_loads(policy: Policy) -> None:
    assert policy.version
    assert len(policy.content_hash) == 64
    assert policy.network("ethereum").chain_id == 1
    assert policy.network("bsc").chain_id == 56


def test_shipped_catalogue_has_16_direct_and_16_conditional(policy: Policy) -> None:
    counts = class_counts(policy)
    assert counts[RecoveryClass.DIRECT] >= 16
    assert counts[RecoveryClass.CONDITIONAL] >= 16
    assert counts[RecoveryClass.UNSUPPORTED] >= 3
    assert sum(counts.values()) == len(policy.networks)


def test_class_counts_follow_the_wrong_network_class(policy_data: dict[str, Any]) -> None:
    before = class_counts(Policy.model_validate(policy_data))
    policy_data["networks"]["bsc"]["wrong_network"] = {"class": "unsupported", "reason": "test"}
    after = class_counts(Policy.model_validate(policy_data))
    assert after[RecoveryClass.DIRECT] == before[RecoveryClass.DIRECT] - 1
    assert after[RecoveryClass.UNSUPPORTED] == before[RecoveryClass.UNSUPPORTED] + 1


def test_class_counts_per_case_type(policy: Policy) -> None:
    counts = class_counts(policy, CaseType.UNLISTED_TOKEN)
    assert counts[RecoveryClass.UNSUPPORTED] >= 1
    assert sum(counts.values()) == len(policy.networks)


@pytest.mark.parametrize("network", ["bitcoin", "tron", "solana"])
def test_named_networks_are_unsupported_with_a_reason(policy: Policy, network: str) -> None:
    rule = policy.network(network).wrong_network
    assert rule.recovery_class is RecoveryClass.UNSUPPORTED
    assert rule.reason


def test_real_chain_ids_and_assets(policy: Policy) -> None:
    expected = {
        "ethereum": 1,
        "bsc": 56,
        "polygon": 137,
        "arbitrum": 42161,
        "optimism": 10,
        "base": 8453,
        "avalanche": 43114,
    }
    assert {n: policy.network(n).chain_id for n in expected} == expected
    eth_usdt = policy.network("ethereum").listed("0xdac17f958d2ee523a2206206994597c13d831ec7")
    bsc_usdt = policy.network("bsc").listed("0x55d398326f99059ff775485246999027b3197955")
    assert eth_usdt is not None
    assert eth_usdt.decimals == 6
    assert bsc_usdt is not None
    assert bsc_usdt.decimals == 18


def test_default_load_is_cached() -> None:
    assert load_policy() is load_policy()
    assert load_policy(overlays=["devnet"]) is load_policy(overlays=["devnet"])


def test_devnet_overlay_marks_ethereum_and_bsc(policy: Policy) -> None:
    devnet = load_policy(overlays=["devnet"])
    for network_id, chain_id in (("ethereum", 1), ("bsc", 56)):
        network = devnet.network(network_id)
        assert network.devnet
        assert network.chain_id == chain_id
        assert network.confirmations == 2
        assert network.confirmations < policy.network(network_id).confirmations
        # fields the overlay does not name survive the merge
        assert network.listed_assets == policy.network(network_id).listed_assets
    assert not devnet.network("polygon").devnet
    assert not policy.network("ethereum").devnet
    assert devnet.version == f"{policy.version}+devnet"
    assert devnet.content_hash != policy.content_hash


def test_overlay_can_override_prices(write_yaml: WriteYaml) -> None:
    token = "0x" + "ab" * 20
    overlay = write_yaml(
        {"prices": {"by_symbol": {"ETH": "10"}, "by_token": {"ethereum": {token: "2.5"}}}},
        "prices.yaml",
    )
    merged = load_policy(overlays=[overlay])
    prices = StaticPriceSource(merged)
    assert prices.price("ethereum", None) == Decimal(10)
    assert prices.price("ethereum", token.upper().replace("0X", "0x")) == Decimal("2.5")
    assert prices.price("bsc", None) == Decimal(600)  # untouched symbols stay


def test_overlay_naming_an_unknown_network_fails(write_yaml: WriteYaml) -> None:
    overlay = write_yaml({"networks": {"etherium": {"devnet": True}}}, "typo.yaml")
    with pytest.raises(PolicyFileError) as caught:
        load_policy(overlays=[overlay])
    message = str(caught.value)
    assert message.startswith(str(overlay))
    assert "networks.etherium: not in the base catalogue" in message


def test_overlay_that_breaks_validation_names_the_overlay(write_yaml: WriteYaml) -> None:
    overlay = write_yaml({"networks": {"bsc": {"confirmations": 0}}}, "bad_overlay.yaml")
    with pytest.raises(PolicyFileError, match=r"bad_overlay\.yaml: networks\.bsc\.confirmations"):
        load_policy(overlays=[overlay])


def test_missing_overlay_name_fails_naming_the_shipped_path() -> None:
    with pytest.raises(PolicyFileError) as caught:
        load_policy(overlays=["nosuchoverlay"])
    assert str(caught.value).startswith("policies/data/nosuchoverlay.yaml: cannot read")


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for key in parents:
        data = data[key]
    if value is _DELETE:
        del data[last]
    else:
        data[last] = value


_DELETE = object()

MALFORMED = [
    (
        "networks.bsc.confirmations",
        "many",
        "networks.bsc.confirmations: Input should be a valid integer",
    ),
    ("networks.bsc.confirmations", 0, "networks.bsc.confirmations: Input should be greater than"),
    ("networks.ethereum.chain_id", _DELETE, "networks.ethereum: an evm network needs a chain_id"),
    ("networks.polygon.chain_id", 56, "networks.polygon: chain_id 56 is also bsc's"),
    ("networks.bsc.family", "martian", "networks.bsc.family: Input should be"),
    ("networks.bsc.colour", "yellow", "networks.bsc.colour: Extra inputs are not permitted"),
    ("networks.bsc.explorer_tx_url", "https://bscscan.com/tx/", "networks.bsc.explorer_tx_url"),
    (
        "networks.bsc.wrong_network",
        {"class": "direct", "conditions": [{"id": "min_value", "value": "1"}]},
        "networks.bsc.wrong_network: a direct class takes no conditions",
    ),
    (
        "networks.tron.wrong_network",
        {"class": "unsupported"},
        "networks.tron.wrong_network: an unsupported class needs a reason",
    ),
    (
        "networks.bsc.listed_assets",
        [{"symbol": "USDT", "address": "0x55d3", "decimals": 18}],
        "networks.bsc: listed asset USDT: '0x55d3' is not 0x+40 hex",
    ),
    (
        "networks.bsc.listed_assets",
        [{"symbol": "USDT", "address": 0x55D398326F99059FF775485246999027B3197955, "decimals": 18}],
        "networks.bsc.listed_assets[0].address: Input should be a valid string",
    ),
    (
        "fee_schedules.wrong_network.direct.flat",
        0.5,
        "fee_schedules.wrong_network.direct.flat: write money",
    ),
    ("fee_schedules.wrong_network.direct.currency", "EUR", "differs from quote_currency USD"),
    (
        "fee_schedules.wrong_network.conditional",
        _DELETE,
        "no fee schedule for wrong_network/conditional",
    ),
    (
        "fee_schedules.wrong_network.direct.brackets",
        [{"up_to": "100", "percent": "1"}, {"up_to": "50", "percent": "1"}, {"percent": "1"}],
        "fee_schedules.wrong_network.direct: brackets[1]: up_to 50 must exceed 100",
    ),
    ("prices.by_token", {"atlantis": {}}, "prices.by_token.atlantis: unknown network"),
    ("version", _DELETE, "version: Field required"),
    (
        "networks.kaia.wrong_network.conditions",
        [{"id": "min_value"}],
        "networks.kaia.wrong_network.conditions[0]: condition 'min_value' needs value",
    ),
]


@pytest.mark.parametrize(("path", "value", "expected"), MALFORMED)
def test_malformed_file_gives_one_line_naming_the_place(
    policy_data: dict[str, Any], write_yaml: WriteYaml, path: str, value: Any, expected: str
) -> None:
    _set(policy_data, path, value)
    file = write_yaml(policy_data)
    with pytest.raises(PolicyFileError) as caught:
        load_policy(file)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{file}: ")
    assert expected in message


def test_unknown_condition_id_is_a_load_error(
    policy_data: dict[str, Any], write_yaml: WriteYaml
) -> None:
    policy_data["networks"]["kaia"]["wrong_network"]["conditions"].append({"id": "vibes_check"})
    file = write_yaml(policy_data)
    with pytest.raises(UnknownConditionError) as caught:
        load_policy(file)
    message = str(caught.value)
    assert "networks.kaia.wrong_network.conditions[2]" in message
    assert "'vibes_check'" in message
    assert isinstance(caught.value, PolicyError)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("version: [unclosed\n", "line 2 column 1"),
        ("- a list\n- not a mapping\n", "the top level must be a mapping, not list"),
        ("version: '1'\nversion: '2'\n", "duplicate key 'version'"),
        ("networks:\n  bsc: {}\n  bsc: {}\n", "duplicate key 'bsc'"),
    ],
)
def test_unreadable_yaml_gives_one_line(write_yaml: WriteYaml, text: str, expected: str) -> None:
    file = write_yaml(text)
    with pytest.raises(PolicyFileError) as caught:
        load_policy(file)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(str(file))
    assert expected in str(caught.value)


def test_missing_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match="cannot read"):
        load_policy(tmp_path / "absent.yaml")


def test_shipped_file_is_named_by_its_repository_path(write_yaml: WriteYaml) -> None:
    overlay = write_yaml({"networks": {"bsc": {"confirmations": "many"}}}, "devnet_bad.yaml")
    with pytest.raises(PolicyFileError) as caught:
        load_policy(DEFAULT_PATH, overlays=[overlay])
    assert str(caught.value).startswith(f"{overlay}: networks.bsc.confirmations")
    shipped = DEFAULT_PATH.parent / "networks.yaml"
    assert load_policy(shipped).content_hash == load_policy().content_hash
