"""The jobs `serve` runs in-process: one verify and one confirm job per network, and /metrics."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from apscheduler.triggers.interval import IntervalTrigger

from chains.devnet import DevnetCluster
from chains.evm import EvmAdapter
from recovery.api.context import AppContext, utc_now
from recovery.metrics import PROCESS, JobMetrics
from recovery.scheduler import background
from tests.conftest import Clock
from tests.recovery.verification.builders import DEPOSIT, Flow, make_flow


def _wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    # Generous: the jobs run on wall-clock intervals, and a loaded CI machine is slow.
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_jobs_take_a_claim_to_quoted_on_their_own_at_each_networks_pace(
    context: AppContext, auth: Any, adapters: dict[str, EvmAdapter], devnet: DevnetCluster
) -> None:
    context.clock = utc_now
    flow = next(make_flow(context, auth, adapters, utc_now))  # type: ignore[arg-type]
    metrics = JobMetrics()
    scheduler = background(flow.checker, metrics)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert {"verify:bsc", "confirm:bsc", "verify:ethereum", "confirm:ethereum"} <= set(jobs)
        assert {"verify:unserved", "expire:all"} <= set(jobs)
        trigger = jobs["confirm:bsc"].trigger
        assert isinstance(trigger, IntervalTrigger)
        assert trigger.interval.total_seconds() == 1.0  # the devnet's block time

        bsc = devnet.chain("bsc")
        case = flow.file(tx_hash=bsc.send(bsc.accounts[5], to=DEPOSIT, value=10**18))
        # Past verification (confirming, or quoted already if a block came meanwhile).
        _wait_for(lambda: flow.read(case)["status"] in ("confirming", "quoted"))
        bsc.mine(1)
        _wait_for(lambda: flow.read(case)["status"] == "quoted")
    finally:
        scheduler.shutdown(wait=True)
    seconds = metrics.cycle_seconds.labels("confirm", "bsc")
    assert seconds._sum.get() > 0


def test_metrics_show_cases_by_state_their_age_and_are_not_in_the_openapi_document(
    flow: Flow, clock: Clock, devnet: DevnetCluster, adapters: dict[str, EvmAdapter]
) -> None:
    bsc = devnet.chain("bsc")
    flow.file(tx_hash=bsc.send(bsc.accounts[5], to=DEPOSIT, value=10**18))
    flow.file(tx_hash="0x" + "ab" * 32)
    PROCESS.watch_adapters(adapters)
    flow.checker.verify_cycle()
    clock.advance(seconds=90)  # the unseen transaction has been looked for since

    response = flow.client.get("/metrics")  # public: no API key
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'recovery_cases{state="confirming"} 1.0' in text
    assert 'recovery_cases{state="verifying"} 1.0' in text
    assert 'recovery_cases{state="paid"} 0.0' in text
    assert 'recovery_oldest_case_age_seconds{state="verifying"} 90.0' in text
    assert 'recovery_rpc_requests_total{network="bsc"}' in text
    assert "recovery_cycle_duration_seconds" in text
    assert "/metrics" not in flow.client.get("/openapi.json").json()["paths"]
