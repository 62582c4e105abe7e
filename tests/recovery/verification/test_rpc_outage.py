"""A chain node dies during a cycle: its cases keep their state, the error is counted, they
proceed once the node is back; the other network's cases are not held up meanwhile."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chains.devnet import AnvilNode, DevnetCluster
from chains.evm import EvmAdapter
from recovery.api.context import AppContext
from recovery.metrics import JobMetrics, scrape
from recovery.scheduler import run_cycle
from tests.conftest import Clock
from tests.recovery.verification.builders import BSC_DEPOSIT, DEPOSIT, make_flow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevnetCluster]:
    """Two nodes of this module's own; bsc keeps its chain in a state file across restarts."""
    state = tmp_path_factory.mktemp("anvil") / "bsc-state.json"
    cluster = DevnetCluster({})
    cluster.nodes = {
        "ethereum": AnvilNode("ethereum", 1),
        "bsc": AnvilNode("bsc", 56, extra_args=["--state", str(state)]),
    }
    with cluster:
        yield cluster


def test_a_dead_node_leaves_its_cases_as_they_were_and_they_proceed_when_it_is_back(
    context: AppContext, auth: Any, clock: Clock, cluster: DevnetCluster
) -> None:
    adapters = {
        n: EvmAdapter(n, [cluster.node(n).url], timeout=1.0, retries=0) for n in ("ethereum", "bsc")
    }
    metrics = JobMetrics()
    metrics.watch_adapters(adapters)
    flow = next(make_flow(context, auth, adapters, clock))  # type: ignore[arg-type]
    bsc, ethereum = cluster.chain("bsc"), cluster.chain("ethereum")
    over_bsc = flow.file(tx_hash=bsc.send(bsc.accounts[5], to=DEPOSIT, value=10**18))
    over_ethereum = flow.file(
        network="ethereum",
        opened_for="bsc",
        deposit_address=BSC_DEPOSIT,
        tx_hash=ethereum.send(ethereum.accounts[5], to=BSC_DEPOSIT, value=10**18),
    )
    run_cycle("verify", "all", flow.checker.verify_cycle, metrics)
    assert flow.read(over_bsc)["status"] == flow.read(over_ethereum)["status"] == "confirming"
    bsc.mine(1)
    ethereum.mine(1)

    port = cluster.node("bsc").port
    cluster.node("bsc").stop()  # SIGTERM: anvil writes its state file and exits
    errors_before = adapters["bsc"].errors
    clock.advance(seconds=1)
    report = run_cycle("confirm", "all", flow.checker.confirm_cycle, metrics)

    assert report is not None
    assert report.rpc_errors == {"bsc": 1}
    stuck = flow.read(over_bsc)
    assert stuck["status"] == "confirming"
    assert "the bsc nodes did not answer" in stuck["check_note"]
    assert "http" not in stuck["check_note"], "endpoint URLs (and their API keys) stay in logs"
    assert [e["to_status"] for e in flow.events(over_bsc)][-1] == "confirming"
    assert flow.read(over_ethereum)["status"] == "quoted", "ethereum is not held up by bsc"
    assert adapters["bsc"].errors > errors_before
    text = scrape(context.database, clock, metrics).decode()
    assert 'recovery_cycle_errors_total{job="confirm",kind="rpc",network="all"} 1.0' in text
    assert f'recovery_rpc_errors_total{{network="bsc"}} {float(adapters["bsc"].errors)}' in text

    # The node is back on the same port with the same chain.
    cluster.nodes["bsc"] = AnvilNode(
        "bsc", 56, port=port, extra_args=["--state", _state_file(cluster)]
    ).start()
    clock.advance(seconds=30)
    report = run_cycle("confirm", "all", flow.checker.confirm_cycle, metrics)
    assert report is not None
    assert not report.rpc_errors
    assert flow.read(over_bsc)["status"] == "quoted"
    assert flow.read(over_bsc)["check_note"] is None
    for adapter in adapters.values():
        adapter.close()


def _state_file(cluster: DevnetCluster) -> str:
    args = cluster.node("bsc").extra_args
    return str(Path(args[args.index("--state") + 1]))
