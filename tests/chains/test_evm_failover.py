"""Endpoint failover, retries and the RpcUnavailable error, against real and broken endpoints."""

from __future__ import annotations

import time

import pytest

from chains.devnet import DevnetCluster
from chains.errors import RpcUnavailable
from chains.evm import EvmAdapter

pytestmark = pytest.mark.anvil


def test_closed_port_first_fails_over_to_the_second_endpoint(
    devnet: DevnetCluster, closed_endpoint: str
) -> None:
    live = devnet.node("bsc").url
    with EvmAdapter("bsc", [closed_endpoint, live], backoff=0.01) as adapter:
        assert adapter.chain_id() == 56
        assert (adapter.calls, adapter.errors) == (2, 1)

        # The endpoint that answered is tried first from now on.
        adapter.head()
        assert (adapter.calls, adapter.errors) == (3, 1)


def test_5xx_endpoint_fails_over(devnet: DevnetCluster, broken_endpoint: str) -> None:
    with EvmAdapter("ethereum", [broken_endpoint, devnet.node("ethereum").url]) as adapter:
        assert adapter.chain_id() == 1
        assert adapter.errors == 1


def test_timeout_fails_over(devnet: DevnetCluster, silent_endpoint: str) -> None:
    live = devnet.node("ethereum").url
    with EvmAdapter("ethereum", [silent_endpoint, live], timeout=0.2) as adapter:
        assert adapter.has_code(["0x" + "00" * 20]) == {"0x" + "00" * 20: False}
        assert adapter.errors == 1


def test_all_endpoints_down_raises_rpc_unavailable_naming_network_and_endpoints(
    closed_endpoint: str, broken_endpoint: str
) -> None:
    with (
        EvmAdapter("bsc", [closed_endpoint, broken_endpoint], retries=2, backoff=0.01) as adapter,
        pytest.raises(RpcUnavailable) as raised,
    ):
        adapter.transactions(["0x" + "ab" * 32])

    message = str(raised.value)
    assert "bsc" in message
    assert closed_endpoint in message
    assert "ConnectError" in message
    assert broken_endpoint in message
    assert "HTTP 503" in message
    assert raised.value.network == "bsc"
    assert set(raised.value.failures) == {closed_endpoint, broken_endpoint}
    assert (adapter.calls, adapter.errors) == (6, 6)  # 3 rounds x 2 endpoints


def test_retries_back_off_exponentially(closed_endpoint: str) -> None:
    adapter = EvmAdapter("polygon", [closed_endpoint], retries=3, backoff=0.05)
    started = time.monotonic()

    with pytest.raises(RpcUnavailable):
        adapter.head()

    assert time.monotonic() - started >= 0.05 + 0.1 + 0.2
    assert adapter.calls == 4
