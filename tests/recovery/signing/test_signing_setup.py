"""Development keys are refused for anything not marked devnet and run by a devnet node."""

from __future__ import annotations

import pytest

from chains.evm import EvmAdapter
from chains.signers.errors import DevelopmentKeyRefused
from policies import Policy, load_policy
from recovery.settings import DEVELOPMENT_MNEMONIC, Settings
from recovery.signing import UnsafeSigningSetup, build_signer

OWN_MNEMONIC = (
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
)


def test_devnet_marked_anvil_nodes_accept_the_development_mnemonic(
    policy: Policy, adapters: dict[str, EvmAdapter]
) -> None:
    signer = build_signer(Settings(mnemonic=DEVELOPMENT_MNEMONIC), policy, adapters)
    assert signer is not None
    assert signer.devnet_chain_ids == frozenset({1, 56})


def test_without_the_devnet_mark_the_development_mnemonic_is_refused(
    adapters: dict[str, EvmAdapter],
) -> None:
    mainnet_policy = load_policy()
    with pytest.raises((UnsafeSigningSetup, DevelopmentKeyRefused)):
        build_signer(Settings(mnemonic=DEVELOPMENT_MNEMONIC), mainnet_policy, adapters)


def test_a_devnet_mark_on_a_node_that_is_not_a_devnet_is_refused(policy: Policy) -> None:
    class RealNode:
        network = "ethereum"

        def client_version(self) -> str:
            return "Geth/v1.14.0-stable/linux-amd64/go1.22"

    with pytest.raises(UnsafeSigningSetup, match="its node reports 'Geth"):
        build_signer(Settings(mnemonic=OWN_MNEMONIC), policy, {"ethereum": RealNode()})  # type: ignore[dict-item]


def test_a_mnemonic_of_its_own_signs_for_real_networks(adapters: dict[str, EvmAdapter]) -> None:
    signer = build_signer(Settings(mnemonic=OWN_MNEMONIC), load_policy(), adapters)
    assert signer is not None
    assert OWN_MNEMONIC.split()[0] not in repr(signer)


def test_production_settings_refuse_the_development_mnemonic() -> None:
    with pytest.raises(ValueError, match="public development mnemonic"):
        Settings(environment="production", mnemonic=DEVELOPMENT_MNEMONIC)
