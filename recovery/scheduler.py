"""The periodic jobs (APScheduler 3), run inside `serve` or in a separate `worker`."""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from chains.evm.adapter import EvmAdapter
from policies import Policy
from recovery.errors import InvalidInput
from recovery.settings import Settings
from recovery.verification.service import Checker, CycleReport

log = logging.getLogger(__name__)


def build_adapters(settings: Settings, policy: Policy) -> dict[str, EvmAdapter]:
    """One EVM adapter per network that has RPC endpoints in the settings."""
    adapters: dict[str, EvmAdapter] = {}
    for network, endpoints in settings.rpc.items():
        if network not in policy.networks:
            known = ", ".join(sorted(policy.networks))
            raise InvalidInput(f"RECOVERY_RPC__{network.upper()}: unknown network; known: {known}")
        if policy.networks[network].family != "evm":
            raise InvalidInput(f"RECOVERY_RPC__{network.upper()}: only EVM networks are served")
        adapters[network] = EvmAdapter(network, endpoints, timeout=settings.rpc_timeout_seconds)
    return adapters


def check_interval(policy: Policy, networks: list[str]) -> float:
    """Seconds between cycles: the fastest served network's block time, within 1 to 15 s."""
    times = [policy.networks[n].block_time_seconds for n in networks] or [15.0]
    return min(15.0, max(1.0, min(times)))


def _logged(name: str, report: CycleReport) -> None:
    if report.claimed or report.errors:
        log.info(
            "%s: claimed %d, moved %s, waiting %d, errors %d, rpc errors %s",
            name,
            report.claimed,
            dict(report.moved),
            report.waiting,
            report.errors,
            dict(report.rpc_errors),
        )


def add_jobs(scheduler: BaseScheduler, checker: Checker, interval: float) -> None:
    """Register the verification and confirmation cycles on `scheduler`."""
    scheduler.add_job(
        lambda: _logged("verify", checker.verify_cycle()),
        "interval",
        seconds=interval,
        id="verify",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        lambda: _logged("confirm", checker.confirm_cycle()),
        "interval",
        seconds=interval,
        id="confirm",
        max_instances=1,
        coalesce=True,
    )


def background(checker: Checker, interval: float) -> BackgroundScheduler:
    """A started scheduler running the jobs in a thread of this process."""
    scheduler = BackgroundScheduler(timezone="UTC")
    add_jobs(scheduler, checker, interval)
    scheduler.start()
    return scheduler


def blocking(checker: Checker, interval: float) -> BlockingScheduler:
    """A scheduler that runs the jobs in the foreground (the `worker` command)."""
    scheduler = BlockingScheduler(timezone="UTC")
    add_jobs(scheduler, checker, interval)
    return scheduler
