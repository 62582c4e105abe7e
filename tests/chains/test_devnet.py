"""The anvil harness: nodes start on free ports with the right chain id and never outlive us."""

from __future__ import annotations

import os

import pytest

from chains.devnet import AnvilNode, DevnetCluster
from chains.devnet.artifacts import ARTIFACTS_DIR, load
from chains.evm import EvmAdapter

pytestmark = pytest.mark.anvil


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A stopped child we already reaped no longer exists; an unreaped one is a zombie.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def test_node_serves_its_chain_id_and_is_gone_after_stop() -> None:
    with AnvilNode("polygon", 137) as node:
        pid = node.pid
        assert pid is not None
        with EvmAdapter("polygon", [node.url]) as adapter:
            assert adapter.chain_id() == 137
            assert adapter.client_version().startswith("anvil/")

    assert not node.running
    assert not _alive(pid)


def _use_cluster_then_fail(pids: list[int]) -> None:
    with DevnetCluster({"ethereum": 1, "bsc": 56, "base": 8453}) as cluster:
        chain_ids = {}
        for network in cluster.nodes:
            with cluster.adapter(network) as adapter:
                chain_ids[network] = adapter.chain_id()
        assert chain_ids == {"ethereum": 1, "bsc": 56, "base": 8453}
        pids.extend(node.pid for node in cluster.nodes.values() if node.pid is not None)
        raise RuntimeError("a failing test")


def test_cluster_stops_every_node_when_the_block_raises() -> None:
    pids: list[int] = []

    with pytest.raises(RuntimeError, match="a failing test"):
        _use_cluster_then_fail(pids)

    assert len(pids) == 3
    assert not any(_alive(pid) for pid in pids)


def test_cluster_that_fails_to_start_stops_the_nodes_it_started() -> None:
    cluster = DevnetCluster({"ethereum": 1, "broken": 56}, extra_args=[])
    cluster.nodes["broken"].extra_args = ("--no-such-flag",)

    with pytest.raises(Exception, match="broken"):
        cluster.start()

    assert not any(node.running for node in cluster.nodes.values())


def test_every_contract_source_has_a_committed_artifact() -> None:
    sources = {p.stem for p in ARTIFACTS_DIR.parent.glob("*.sol")}
    for name in sources:
        artifact = load(name)
        assert artifact.bytecode.startswith("0x60")
        assert artifact.abi
