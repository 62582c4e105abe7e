"""The discovery job in the scheduler: built from the settings, it finds deposits on its own."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select

from chains.devnet import DevnetCluster
from chains.evm import EvmAdapter
from recovery.api.context import AppContext, utc_now
from recovery.db.tables import FoundDepositRow
from recovery.errors import InvalidInput
from recovery.metrics import JobMetrics
from recovery.scheduler import background, build_discoverer
from recovery.settings import Settings
from tests.recovery.verification.builders import DEPOSIT, make_flow


def test_the_scheduler_runs_discovery_per_network_and_it_finds_a_deposit(
    context: AppContext, auth: Any, adapters: dict[str, EvmAdapter], devnet: DevnetCluster
) -> None:
    context.clock = utc_now
    flow = next(make_flow(context, auth, adapters, utc_now))  # type: ignore[arg-type]
    bsc = devnet.chain("bsc")
    settings = Settings(
        database_url=str(context.database.engine.url),
        discovery_start_block={"bsc": bsc.head() + 1, "ethereum": devnet.chain("ethereum").head()},
    )
    discoverer = build_discoverer(settings, context, adapters)
    assert discoverer is not None
    metrics = JobMetrics()
    scheduler = background(flow.checker, metrics, discoverer=discoverer)
    try:
        jobs = {job.id for job in scheduler.get_jobs()}
        assert {"discover:bsc", "discover:ethereum"} <= jobs
        tx = bsc.send(bsc.accounts[5], to=DEPOSIT, value=10**18)
        deadline = time.monotonic() + 30
        while True:
            with context.database.unit_of_work() as session:
                found = list(session.scalars(select(FoundDepositRow.tx_hash)))
            if found:
                break
            assert time.monotonic() < deadline, "the discovery job found nothing"
            time.sleep(0.1)
    finally:
        scheduler.shutdown(wait=True)
    assert found == [tx]
    assert metrics.found.labels("bsc", "wrong_network")._value.get() == 1
    assert metrics.scan_lag.labels("bsc")._value.get() >= 0


def test_discovery_settings_are_checked_at_start(
    context: AppContext, adapters: dict[str, EvmAdapter]
) -> None:
    url = str(context.database.engine.url)
    assert (
        build_discoverer(Settings(database_url=url, discovery_enabled=False), context, adapters)
        is None
    )
    with pytest.raises(InvalidInput, match="RECOVERY_DISCOVERY_START_BLOCK__NOWHERE"):
        build_discoverer(
            Settings(database_url=url, discovery_start_block={"nowhere": 1}), context, adapters
        )
