"""Development keys are refused for anything not marked devnet and run by a devnet node."""

from __future__ import annotations

import pytest

from chains.devnet import DevnetCluster
from chains.evm import EvmAdapter
from chains.evm.endpoints import EndpointIdentity
from chains.signers.errors import DevelopmentKeyRefused, InvalidMnemonic
from policies import Policy, load_policy
from recovery.scheduler import build_adapters
from recovery.settings import DEVELOPMENT_MNEMONIC, Settings
from recovery.signing import UnsafeSigningSetup, build_signer
from tests.chains.proxy import serve_proxy

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


@pytest.mark.parametrize(
    "client", ["Geth/v1.14.0-stable/linux-amd64/go1.22", "HardhatNetwork/2.22.0/@ethereumjs/vm"]
)
def test_a_devnet_mark_on_a_node_that_is_not_anvil_is_refused(policy: Policy, client: str) -> None:
    class RealNode:
        network = "ethereum"

        def client_version(self) -> str:
            return client

    with pytest.raises(UnsafeSigningSetup, match=f"its node reports '{client[:6]}"):
        build_signer(Settings(mnemonic=OWN_MNEMONIC), policy, {"ethereum": RealNode()})  # type: ignore[dict-item]


def test_the_served_adapters_check_every_endpoint_against_the_policy(policy: Policy) -> None:
    settings = Settings(rpc={"bsc": ["http://127.0.0.1:1"], "polygon": ["http://127.0.0.1:2"]})

    adapters = build_adapters(settings, policy)

    assert adapters["bsc"].identity == EndpointIdentity(chain_id=56, devnet=True)
    assert adapters["polygon"].identity == EndpointIdentity(chain_id=137, devnet=False)


def test_a_devnet_marked_network_with_no_anvil_endpoint_does_not_start(
    policy: Policy, devnet: DevnetCluster
) -> None:
    with serve_proxy(devnet.node("bsc").url) as geth_named:
        geth_named.client_version = "Geth/v1.14.11-stable/linux-amd64/go1.23.2"
        adapters = build_adapters(Settings(rpc={"bsc": [geth_named.url]}), policy)

        with pytest.raises(UnsafeSigningSetup) as raised:
            build_signer(Settings(mnemonic=DEVELOPMENT_MNEMONIC), policy, adapters)

    assert "bsc is marked devnet in the policy, but no endpoint of it showed" in str(raised.value)
    assert "reports 'Geth/v1.14.11" in str(raised.value)
    assert geth_named.methods == ["web3_clientVersion", "eth_chainId"]


def test_a_mnemonic_that_is_no_bip39_phrase_is_refused_without_its_words(
    adapters: dict[str, EvmAdapter],
) -> None:
    broken = OWN_MNEMONIC.replace("about", "abbot")

    with pytest.raises(InvalidMnemonic) as raised:
        build_signer(Settings(mnemonic=broken), load_policy(), adapters)

    assert "abbot" not in str(raised.value)
    assert "abandon" not in str(raised.value)


def test_a_mnemonic_of_its_own_signs_for_real_networks(adapters: dict[str, EvmAdapter]) -> None:
    signer = build_signer(Settings(mnemonic=OWN_MNEMONIC), load_policy(), adapters)
    assert signer is not None
    assert OWN_MNEMONIC.split()[0] not in repr(signer)


def test_production_settings_refuse_the_development_mnemonic() -> None:
    with pytest.raises(ValueError, match="public development mnemonic"):
        Settings(environment="production", mnemonic=DEVELOPMENT_MNEMONIC)
