"""Reading a block range for deposits into a set of addresses, on a real anvil node."""

from __future__ import annotations

import pytest
from eth_account import Account

from chains.devnet import DevnetChain
from chains.evm import EvmAdapter, discovery
from chains.evm.discovery import ScanCost, native_arrivals, transfer_logs
from tests.chains.proxy import serve_proxy


def _addresses(count: int) -> list[str]:
    return [Account.create().address for _ in range(count)]


def test_chunked_and_whole_range_reads_find_the_same_transfers(
    ethereum: DevnetChain, ethereum_adapter: EvmAdapter
) -> None:
    watched = _addresses(25)
    token = ethereum.deploy_token(symbol="ODD", decimals=18)
    first = ethereum.head() + 1
    hashes = [ethereum.mint(token, watched[i], 10 + i) for i in (0, 7, 24)]
    ethereum.mint(token, _addresses(1)[0], 99)  # to nobody we watch
    last = ethereum.head()

    chunked_cost, whole_cost = ScanCost(), ScanCost()
    chunked = transfer_logs(
        ethereum_adapter, first, last, watched, chunk_size=10, cost=chunked_cost
    )
    whole = transfer_logs(ethereum_adapter, first, last, watched, whole_range=True, cost=whole_cost)

    assert [t.tx_hash for t in chunked] == [h.lower() for h in hashes]
    assert chunked == whole
    assert [t.transfer.value for t in chunked] == [10, 17, 34]
    # 25 addresses in chunks of 10: three filtered queries in one batch request.
    assert (chunked_cost.items, chunked_cost.requests) == (3, 1)
    # The whole range: one query; it saw the unwatched transfer too and left it out.
    assert whole_cost.items == 1
    assert whole_cost.logs_seen == chunked_cost.logs_seen + 1


def test_a_node_that_refuses_wide_ranges_is_asked_in_halves(
    ethereum: DevnetChain, ethereum_adapter: EvmAdapter
) -> None:
    watched = _addresses(3)
    token = ethereum.deploy_token(symbol="ODD", decimals=18)
    first = ethereum.head() + 1
    for address in watched:
        ethereum.mint(token, address, 5)
        ethereum.mine(3)
    last = ethereum.head()
    expected = transfer_logs(ethereum_adapter, first, last, watched)

    with serve_proxy(ethereum.url) as proxy:
        proxy.max_log_range = 4
        with EvmAdapter("ethereum", [proxy.url]) as limited:
            cost = ScanCost()
            found = transfer_logs(limited, first, last, watched, cost=cost)

    assert found == expected
    assert len(found) == 3
    assert cost.splits >= 2


def test_native_value_is_read_from_traces_and_from_top_level_transactions(
    bsc: DevnetChain, bsc_adapter: EvmAdapter
) -> None:
    watched = _addresses(2)
    sender = bsc.accounts[3]
    first = bsc.head() + 1
    direct = bsc.send(sender, to=watched[0], value=7 * 10**15)
    bsc.send(sender, to=_addresses(1)[0], value=10**15)  # not watched
    last = bsc.head()

    traced = native_arrivals(bsc_adapter, first, last, watched, traces=True)
    top_level = native_arrivals(bsc_adapter, first, last, watched, traces=False)

    assert [(a.tx_hash, a.recipient, a.value) for a in traced] == [
        (direct.lower(), watched[0], 7 * 10**15)
    ]
    assert traced == top_level
    assert traced[0].sender == sender
    assert traced[0].block_hash == bsc.block_hash(traced[0].block_number)


def test_chunks_travel_in_requests_of_bounded_size(
    ethereum: DevnetChain, ethereum_adapter: EvmAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discovery, "MAX_BATCH_TOPICS", 20)
    watched = _addresses(25)
    token = ethereum.deploy_token(symbol="ODD", decimals=18)
    first = ethereum.head() + 1
    ethereum.mint(token, watched[24], 1)
    cost = ScanCost()

    found = transfer_logs(
        ethereum_adapter, first, ethereum.head(), watched, chunk_size=10, cost=cost
    )

    assert [t.transfer.recipient for t in found] == [watched[24]]
    # Three chunks of at most 10 topics, at most 20 topics a request: two requests.
    assert (cost.items, cost.requests) == (3, 2)


def test_native_value_a_contract_moved_counts_and_a_reverted_frame_does_not(
    bsc: DevnetChain, bsc_adapter: EvmAdapter
) -> None:
    watched = _addresses(2)
    forwarder = bsc.deploy_forwarder()
    sender = bsc.accounts[3]
    first = bsc.head() + 1
    paid = bsc.forward_native(forwarder, sender, [(watched[0], 3 * 10**15)])
    bsc.forward_native(forwarder, sender, [(watched[1], 10**15)], undo=True)
    last = bsc.head()

    traced = native_arrivals(bsc_adapter, first, last, watched, traces=True)
    top_level = native_arrivals(bsc_adapter, first, last, watched, traces=False)

    assert [(a.tx_hash, a.recipient, a.value, a.internal) for a in traced] == [
        (paid.lower(), watched[0], 3 * 10**15, True)
    ]
    assert traced[0].sender == sender
    # Without traces only top-level value shows, and none of these paid a watched address.
    assert top_level == []
