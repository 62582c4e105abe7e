"""Heads never go backwards: lagging, contradicting and resting endpoints on real anvil nodes.

A lagging node is a real anvil forked from the primary node at an earlier block: it has
the same blocks (same hashes) up to that block and none after, like a replica that fell
behind.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chains.devnet import AnvilNode, DevnetChain
from chains.errors import NodesBehind, RpcUnavailable
from chains.evm import EvmAdapter
from chains.evm.endpoints import EndpointState, RestPolicy
from tests.chains.proxy import serve_proxy

pytestmark = pytest.mark.anvil


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def primary() -> Iterator[AnvilNode]:
    """A node of this test's own (it may be stopped) with 10 blocks."""
    with AnvilNode("bsc", 56) as node:
        DevnetChain("bsc", node.url).mine(10)
        yield node


def lagging_replica(primary: AnvilNode, at_block: int) -> AnvilNode:
    """A started anvil that knows `primary`'s chain up to `at_block` and nothing after."""
    return AnvilNode(
        "bsc", 56, extra_args=["--fork-url", primary.url, "--fork-block-number", str(at_block)]
    ).start()


def states(adapter: EvmAdapter) -> list[EndpointState]:
    return [e.state for e in adapter.endpoint_report().endpoints]


def test_a_lagging_endpoint_behind_a_failing_one_gives_no_head(primary: AnvilNode) -> None:
    deposit_block = 8
    with (
        lagging_replica(primary, at_block=5) as replica,
        EvmAdapter("bsc", [primary.url, replica.url], retries=0) as adapter,
    ):
        assert adapter.head() == 10
        primary.stop()

        with pytest.raises(NodesBehind) as raised:
            adapter.head_view([deposit_block])
        with pytest.raises(NodesBehind):
            adapter.block_hashes([deposit_block])  # never "None: the block is gone"

        assert raised.value.highest_head == 10
        assert "lagging: head 5, below 10" in str(raised.value)
        report = adapter.endpoint_report()
        assert report.highest_head == 10
        assert states(adapter) == [EndpointState.UNREACHABLE, EndpointState.LAGGING]
        assert report.endpoints[1].last_head == 5
        assert report.endpoints[1].lagged == 2
        assert "127.0.0.1" in report.endpoints[1].name


def test_a_lagging_first_endpoint_is_passed_over_for_one_that_has_the_blocks(
    primary: AnvilNode,
) -> None:
    chain = DevnetChain("bsc", primary.url)
    deposit_block = 8
    with (
        lagging_replica(primary, at_block=5) as replica,
        EvmAdapter("bsc", [replica.url, primary.url], retries=0) as adapter,
    ):
        # A fresh process has seen no head yet: the replica's 5 is below the asked block.
        view = adapter.head_view([4, deposit_block])

        assert view.head == 10
        assert view.block_hashes == {4: chain.block_hash(4), deposit_block: chain.block_hash(8)}
        assert view.endpoint == adapter.endpoint_report().endpoints[1].name
        # From now on the replica is behind the highest head and never gives one.
        assert adapter.head() == 10
        chain.mine(1)
        assert adapter.head() == 11


def test_an_endpoint_whose_head_it_cannot_back_with_blocks_is_not_believed(
    primary: AnvilNode,
) -> None:
    chain = DevnetChain("bsc", primary.url)
    with serve_proxy(primary.url) as mixed, serve_proxy(primary.url) as honest:
        mixed.head_offset = 5  # says 15, has blocks up to 10, like a mixed load balancer
        with EvmAdapter("bsc", [mixed.url, honest.url], retries=0) as adapter:
            view = adapter.head_view([9, 12])

            assert (view.head, view.block_hashes) == (10, {9: chain.block_hash(9), 12: None})
            first = adapter.endpoint_report().endpoints[0]
            assert first.state == EndpointState.UNREACHABLE
            assert first.contradictions == 1
            assert "yet no block 12" in str(first.last_error)
            # A head its own blocks do not back is not the network's highest.
            assert adapter.endpoint_report().highest_head == 10
            assert adapter.head() == 10
            assert mixed.hits == 1, "the answering endpoint is asked first from now on"


def test_a_repeatedly_failing_endpoint_rests_then_is_tried_again(primary: AnvilNode) -> None:
    ticks = Ticks()
    rest = RestPolicy(failures=2, first=5.0, longest=12.0)
    with serve_proxy(primary.url) as flaky:
        flaky.failing = True
        adapter = EvmAdapter("bsc", [flaky.url], retries=0, rest=rest, clock=ticks)

        def fails() -> str:
            with pytest.raises(RpcUnavailable) as raised:
                adapter.chain_id()
            return str(raised.value)

        fails()
        fails()  # the second failure in a row: it rests 5 s
        assert flaky.hits == 2
        assert "resting 5.0s more after 2 failures in a row" in fails()
        assert flaky.hits == 2, "a resting endpoint is not asked"
        assert adapter.endpoint_report().endpoints[0].resting_seconds == 5.0

        ticks.advance(5.0)
        fails()
        assert flaky.hits == 3, "asked again once its rest is over"
        assert adapter.endpoint_report().endpoints[0].resting_seconds == 10.0  # doubled

        ticks.advance(10.0)
        fails()
        assert adapter.endpoint_report().endpoints[0].resting_seconds == 12.0  # bounded
        ticks.advance(11.9)
        fails()
        assert flaky.hits == 4

        ticks.advance(0.1)
        flaky.failing = False
        assert adapter.chain_id() == 56
        endpoint = adapter.endpoint_report().endpoints[0]
        assert (endpoint.state, endpoint.failures_in_row, endpoint.resting_seconds) == (
            EndpointState.ALIVE,
            0,
            0.0,
        )
        assert endpoint.errors == 4
        adapter.close()


def test_a_resting_endpoint_is_skipped_while_another_answers(primary: AnvilNode) -> None:
    ticks = Ticks()
    with serve_proxy(primary.url) as first, serve_proxy(primary.url) as second:
        adapter = EvmAdapter(
            "bsc", [first.url, second.url], retries=0, rest=RestPolicy(failures=1), clock=ticks
        )
        first.failing = True
        assert adapter.head() == 10  # first fails and rests, second answers
        second.failing = True
        with pytest.raises(RpcUnavailable) as raised:
            adapter.head()
        assert "resting" in str(raised.value)
        assert first.hits == 1, "the resting endpoint was not asked"

        ticks.advance(5.0)
        first.failing = False
        assert adapter.head() == 10
        assert first.hits == 2
        assert states(adapter) == [EndpointState.ALIVE, EndpointState.UNREACHABLE]
        adapter.close()


def test_only_a_devnet_goes_back_and_only_when_every_endpoint_agrees(
    primary: AnvilNode, closed_endpoint: str
) -> None:
    chain = DevnetChain("bsc", primary.url)
    snapshot = chain.snapshot()
    chain.mine(5)  # head 15
    with (
        EvmAdapter("bsc", [primary.url], retries=0) as strict,
        EvmAdapter("bsc", [primary.url], retries=0, rewinds=True) as devnet,
        EvmAdapter("bsc", [primary.url, closed_endpoint], retries=0, rewinds=True) as partial,
    ):
        assert strict.head() == devnet.head() == partial.head() == 15
        chain.revert(snapshot)  # the node is reset to block 10
        chain.mine(1)

        with pytest.raises(NodesBehind):
            strict.head()  # a mainnet node behind what it showed is lagging, full stop
        with pytest.raises(NodesBehind):
            partial.head()  # one endpoint could not be asked: it may still be at 15
        assert devnet.head_view([11]).block_hashes == {11: chain.block_hash(11)}
        assert devnet.endpoint_report().highest_head == 11
