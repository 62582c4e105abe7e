"""Every endpoint shows the network's chain id (and, for a devnet, an anvil client) before
it is used: on first use, after it failed and after a failover; real anvil nodes behind
proxies that fail on cue or name another client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chains.devnet import DEV_MNEMONIC, AnvilNode, DevnetCluster
from chains.errors import BroadcastRejected, RpcUnavailable
from chains.evm import EvmAdapter
from chains.evm.endpoints import EndpointIdentity, EndpointState
from chains.signers import HdSigner
from tests.chains.proxy import NodeProxy, serve_proxy

pytestmark = pytest.mark.anvil

BSC_DEVNET = EndpointIdentity(chain_id=56, devnet=True)
CHECK = ["web3_clientVersion", "eth_chainId"]
GETH = "Geth/v1.14.11-stable/linux-amd64/go1.23.2"


@pytest.fixture
def primary(devnet: DevnetCluster) -> Iterator[NodeProxy]:
    """The bsc devnet node (chain id 56), behind a proxy that can be told to fail."""
    with serve_proxy(devnet.node("bsc").url) as proxy:
        yield proxy


@pytest.fixture
def other_chain() -> Iterator[NodeProxy]:
    """A real anvil node serving chain id 97, not bsc's 56, behind a recording proxy."""
    with AnvilNode("bsc", 97) as node, serve_proxy(node.url) as proxy:
        yield proxy


@pytest.fixture
def geth_named(devnet: DevnetCluster) -> Iterator[NodeProxy]:
    """The bsc devnet node (chain id 56) answering as a geth node would name itself."""
    with serve_proxy(devnet.node("bsc").url) as proxy:
        proxy.client_version = GETH
        yield proxy


def _payout_tx() -> bytes:
    """A payout signed for bsc by an address that holds nothing: no node would mine it."""
    signer = HdSigner(DEV_MNEMONIC, devnet_chain_ids=frozenset({56}))
    tx = {
        "type": 2,
        "to": "0x5555555555555555555555555555555555555555",
        "value": 1,
        "nonce": 0,
        "gas": 21_000,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 10**9,
    }
    return signer.sign_transaction(signer.address_of(987_654), tx, 56).raw_transaction


def test_each_endpoint_is_checked_once_before_its_first_use(primary: NodeProxy) -> None:
    with EvmAdapter("bsc", [primary.url], identity=BSC_DEVNET) as adapter:
        for _ in range(3):
            adapter.chain_id()
        adapter.head()

    assert primary.methods[:2] == CHECK
    assert primary.methods.count("web3_clientVersion") == 1
    assert primary.methods[2:] == ["eth_chainId"] * 3 + ["eth_blockNumber"]


def test_after_failover_an_endpoint_of_another_chain_id_is_refused_and_never_used(
    primary: NodeProxy, other_chain: NodeProxy
) -> None:
    with EvmAdapter(
        "bsc", [primary.url, other_chain.url], identity=BSC_DEVNET, retries=0
    ) as adapter:
        assert adapter.chain_id() == 56
        primary.failing = True

        with pytest.raises(RpcUnavailable) as read:
            adapter.head()
        with pytest.raises(RpcUnavailable):
            adapter.nonce("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")

        refused = adapter.endpoint_report().endpoints[1]
        primary.failing = False
        assert adapter.native_balance("0x" + "00" * 20) >= 0

    assert "refused: it serves chain id 97, not the policy's 56" in str(read.value)
    # Only the identity check reached it: no read, and no second check while it rests.
    assert other_chain.methods == CHECK
    assert refused.state == EndpointState.REFUSED
    assert refused.last_error == "refused: it serves chain id 97, not the policy's 56"
    assert refused.resting_seconds > 0


@pytest.mark.parametrize("wrong", ["other_chain", "geth_named"])
def test_nothing_is_broadcast_through_a_refused_endpoint(
    primary: NodeProxy, wrong: str, request: pytest.FixtureRequest
) -> None:
    refused: NodeProxy = request.getfixturevalue(wrong)
    with EvmAdapter("bsc", [refused.url, primary.url], identity=BSC_DEVNET) as adapter:
        # The refused endpoint is skipped before anything is sent; the next one gets it
        # (and refuses it: the sender holds nothing).
        with pytest.raises(BroadcastRejected, match=r"(?i)insufficient funds"):
            adapter.send_raw_transaction(_payout_tx())
        state = adapter.endpoint_report().endpoints[0].state

    assert refused.methods == CHECK
    assert primary.methods == [*CHECK, "eth_sendRawTransaction"]
    assert state == EndpointState.REFUSED


def test_a_devnet_marked_network_never_fails_over_to_a_node_that_is_not_anvil(
    primary: NodeProxy, geth_named: NodeProxy
) -> None:
    with EvmAdapter("bsc", [primary.url, geth_named.url], identity=BSC_DEVNET) as adapter:
        adapter.head()
        primary.failing = True

        with pytest.raises(RpcUnavailable, match=r"reports 'Geth/v1\.14\.11"):
            adapter.head()
        with pytest.raises(RpcUnavailable, match="marked devnet, but its node reports"):
            adapter.nonce("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")

        report = adapter.endpoint_report().endpoints

    assert geth_named.methods == CHECK
    assert report[1].state == EndpointState.REFUSED
    assert report[1].last_error is not None
    assert "not anvil" in report[1].last_error


def test_a_network_not_marked_devnet_takes_any_client_of_its_chain_id(
    primary: NodeProxy, geth_named: NodeProxy
) -> None:
    mainnet = EndpointIdentity(chain_id=56, devnet=False)
    with EvmAdapter("bsc", [primary.url, geth_named.url], identity=mainnet) as adapter:
        adapter.head()
        primary.failing = True
        assert adapter.chain_id() == 56
        states = [e.state for e in adapter.endpoint_report().endpoints]

    assert geth_named.methods == [*CHECK, "eth_chainId"]
    assert states == [EndpointState.UNREACHABLE, EndpointState.ALIVE]


def test_an_endpoint_is_checked_again_after_a_failover_and_after_it_failed(
    primary: NodeProxy, devnet: DevnetCluster
) -> None:
    with (
        serve_proxy(devnet.node("bsc").url) as second,
        EvmAdapter("bsc", [primary.url, second.url], identity=BSC_DEVNET, retries=0) as adapter,
    ):
        adapter.head()  # the primary is checked and used
        primary.failing = True
        adapter.head()  # failover: the second is checked, then used
        adapter.head()
        primary.failing = False
        second.failing = True
        # Back on the primary, which failed since its check: its node is now another make.
        primary.client_version = GETH
        with pytest.raises(RpcUnavailable, match="reports 'Geth"):
            adapter.head()
        second.failing = False
        assert adapter.head() >= 0  # the second failed since its check: checked again
        report = adapter.endpoint_report()

    assert second.methods.count("web3_clientVersion") == 2
    assert primary.methods.count("web3_clientVersion") == 2
    assert [e.state for e in report.endpoints] == [EndpointState.REFUSED, EndpointState.ALIVE]
    assert report.failovers == 1


def test_a_refused_endpoint_is_asked_again_after_its_rest(
    primary: NodeProxy, geth_named: NodeProxy
) -> None:
    now = [1000.0]
    with EvmAdapter(
        "bsc", [geth_named.url, primary.url], identity=BSC_DEVNET, clock=lambda: now[0]
    ) as adapter:
        adapter.head()  # the first is refused, the second used
        adapter.head()
        geth_named.client_version = None  # its operator put an anvil node behind it
        now[0] += 301  # past the longest rest (300 s by default)
        primary.failing = True
        adapter.head()
        states = [e.state for e in adapter.endpoint_report().endpoints]

    assert geth_named.methods.count("web3_clientVersion") == 2
    assert geth_named.methods[-1] == "eth_blockNumber"
    assert states == [EndpointState.ALIVE, EndpointState.UNREACHABLE]
