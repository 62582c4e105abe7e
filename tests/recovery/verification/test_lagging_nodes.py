"""A lagging node behind a failing one never lowers a case's confirmations or fakes a reorg.

Real anvil nodes: the primary keeps its chain in a state file so it can be stopped and
started again; the lagging node is an anvil forked from it at the block before the
deposit's (same hashes up to there, nothing after), like a replica that fell behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chains.devnet import AnvilNode, DevnetChain
from chains.evm import EvmAdapter
from recovery.api.context import AppContext
from recovery.metrics import JobMetrics, scrape
from recovery.scheduler import run_cycle
from recovery.verification.service import Checker
from tests.conftest import Clock
from tests.recovery.verification.builders import DEPOSIT, Flow, make_flow

pytestmark = pytest.mark.anvil


class Ticks:
    """The adapters' monotonic clock (endpoint rests), moved by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def primary(tmp_path: Path) -> Iterator[AnvilNode]:
    node = AnvilNode("bsc", 56, extra_args=["--state", str(tmp_path / "bsc-state.json")])
    with node:
        yield node


def confirmations(flow: Flow, case: dict[str, Any]) -> tuple[str, int | None]:
    read = flow.read(case)
    return read["status"], (read["facts"] or {}).get("confirmations")


def series(text: str, name: str, **labels: str) -> float | None:
    """The value of one Prometheus series in a scrape, None when absent."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} "):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_a_lagging_endpoint_behind_a_failing_one_never_lowers_confirmations(
    context: AppContext, auth: Any, clock: Clock, primary: AnvilNode
) -> None:
    chain = DevnetChain("bsc", primary.url)
    chain.mine(3)
    tx = chain.send(chain.accounts[5], to=DEPOSIT, value=10**18)
    deposit_block = chain.head()
    replica = AnvilNode(
        "bsc",
        56,
        extra_args=["--fork-url", primary.url, "--fork-block-number", str(deposit_block - 1)],
    ).start()
    ticks = Ticks()
    adapter = EvmAdapter("bsc", [primary.url, replica.url], retries=0, clock=ticks)
    metrics = JobMetrics()
    metrics.watch_adapters({"bsc": adapter})
    flow = next(make_flow(context, auth, {"bsc": adapter}, clock))
    case = flow.file(tx_hash=tx)
    flow.checker.verify_cycle()
    clock.advance(seconds=1)
    flow.checker.confirm_cycle()
    assert confirmations(flow, case) == ("confirming", 1)  # 1 of the 2 bsc needs

    port = primary.port
    primary.stop()  # the primary fails; only the lagging replica still answers
    seen = []
    for _ in range(4):
        clock.advance(seconds=20)  # the cases left waiting are due again
        report = run_cycle("confirm", "bsc", flow.checker.confirm_cycle, metrics)
        assert report is not None
        assert report.rpc_errors == {"bsc": 1}
        seen.append(confirmations(flow, case))
    assert seen == [("confirming", 1)] * 4
    assert "no bsc node answers at block" in flow.read(case)["check_note"]
    assert [e["to_status"] for e in flow.events(case)][-1] == "confirming"

    text = scrape(context.database, clock, metrics).decode()
    replica_name, primary_name = replica.url, f"http://127.0.0.1:{port}"
    lagging = {"network": "bsc", "endpoint": replica_name}
    assert series(text, "recovery_rpc_endpoint_state", state="lagging", **lagging) == 1.0
    assert series(text, "recovery_rpc_endpoint_state", state="alive", **lagging) == 0.0
    assert series(text, "recovery_rpc_endpoint_lagged_total", **lagging) == 4.0
    assert series(text, "recovery_rpc_endpoint_head", **lagging) == deposit_block - 1
    failing = {"network": "bsc", "endpoint": primary_name}
    assert series(text, "recovery_rpc_endpoint_state", state="unreachable", **failing) == 1.0
    assert series(text, "recovery_rpc_endpoint_resting_seconds", **failing) == 5.0
    assert series(text, "recovery_network_head", network="bsc") == deposit_block

    # Another process that never saw the head: the replica is below the deposit's block,
    # which is no proof the block is gone. The case waits.
    clock.advance(seconds=20)
    with EvmAdapter("bsc", [primary.url, replica.url], retries=0) as fresh:
        Checker(context.database, context.policy, {"bsc": fresh}, clock).confirm_cycle()
    assert confirmations(flow, case) == ("confirming", 1)
    assert "below the deposit's block" in flow.read(case)["check_note"]
    assert "reorged" not in [e["reason_code"] for e in flow.events(case)]

    # The primary is back with its chain, one block further: the case is confirmed.
    state = primary.extra_args[primary.extra_args.index("--state") + 1]
    back = AnvilNode("bsc", 56, port=port, extra_args=["--state", state]).start()
    try:
        DevnetChain("bsc", back.url).mine(1)
        ticks.now += 5.0  # the primary's rest is over
        clock.advance(seconds=20)
        flow.checker.confirm_cycle()
        assert confirmations(flow, case) == ("quoted", 2)
        assert [e["to_status"] for e in flow.events(case)] == [
            "submitted",
            "verifying",
            "confirming",
            "quoted",
        ]
    finally:
        back.stop()
        replica.stop()
        adapter.close()
