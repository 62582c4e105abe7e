"""The periodic jobs (APScheduler 3), run inside `serve` or in separate `worker` processes.

Intervals: one verify job and one confirm job per served network, each ticking at that
network's block time (`pacing.poll_interval`, 1 to 60 s), rather than one job at the
fastest chain's pace. A 1 s devnet is looked at every second and a 12 s chain every
12 s; and since a network's cases are all due again just before its next tick
(`pacing.next_look`), each tick reads that network's head once and the hashes of its
distinct blocks in one batch, however many cases it holds.

Many processes: every job claims its cases with a lease (`verification.claims`), so any
number of processes may run the same jobs against one PostgreSQL. SQLite is the
single-process mode: `hold_sqlite_lock` makes a second process refuse to start.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import IO

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.engine import make_url

from chains.evm.adapter import EvmAdapter
from chains.evm.endpoints import EndpointIdentity, RestPolicy
from policies import Policy
from recovery.api.context import AppContext
from recovery.discovery.scan import Discoverer, DiscoveryReport, DiscoveryTiming
from recovery.errors import InvalidInput, RecoveryError
from recovery.metrics import PROCESS, JobMetrics
from recovery.payouts.engine import PayoutEngine
from recovery.settings import Settings
from recovery.verification.pacing import SLOWEST, poll_interval
from recovery.verification.service import Checker, CheckTiming, CycleReport

log = logging.getLogger(__name__)

# Quotes and questions expire at deadlines measured in minutes to days.
EXPIRY_INTERVAL = 10.0


class SecondProcess(RecoveryError):
    """Raised when another process already runs the service on the same SQLite file."""


def build_adapters(settings: Settings, policy: Policy) -> dict[str, EvmAdapter]:
    """One EVM adapter per network that has RPC endpoints in the settings."""
    adapters: dict[str, EvmAdapter] = {}
    for network, endpoints in settings.rpc.items():
        if network not in policy.networks:
            known = ", ".join(sorted(policy.networks))
            raise InvalidInput(f"RECOVERY_RPC__{network.upper()}: unknown network; known: {known}")
        if policy.networks[network].family != "evm":
            raise InvalidInput(f"RECOVERY_RPC__{network.upper()}: only EVM networks are served")
        adapters[network] = EvmAdapter(
            network,
            endpoints,
            timeout=settings.rpc_timeout_seconds,
            rest=RestPolicy(first=settings.rpc_rest_seconds, longest=settings.rpc_max_rest_seconds),
            # A devnet's chain may be reset (`make run` starts fresh nodes on a kept
            # database): its heads may go back once every endpoint agrees.
            rewinds=policy.networks[network].devnet,
            # Every endpoint must serve the policy's chain id (and be anvil where the
            # policy marks the network devnet) before it is used.
            identity=EndpointIdentity(
                chain_id=policy.networks[network].chain_id, devnet=policy.networks[network].devnet
            ),
        )
    return adapters


def build_payouts(
    settings: Settings, context: AppContext, adapters: Mapping[str, EvmAdapter]
) -> PayoutEngine | None:
    """The payout engine of one process, or None when no mnemonic is configured."""
    from recovery.signing import build_signer

    signer = build_signer(settings, context.policy, adapters)
    if signer is None:
        return None
    return PayoutEngine(
        context.database,
        context.policy,
        adapters,
        signer,
        context.clock,
        lease=timedelta(seconds=settings.payout_lease_seconds),
        bump_after=timedelta(seconds=settings.payout_bump_after_seconds),
        stall_after=timedelta(seconds=settings.payout_stall_after_seconds),
        fee_caps=settings.payout_fee_cap_wei,
    )


def build_checker(
    settings: Settings, context: AppContext, adapters: Mapping[str, EvmAdapter]
) -> Checker:
    """The checker of one process, with the lease, deadline and batch size of the settings."""
    return Checker(
        context.database,
        context.policy,
        adapters,
        context.clock,
        timing=CheckTiming(
            deadline=timedelta(seconds=settings.verification_deadline_seconds),
            lease=timedelta(seconds=settings.lease_seconds),
        ),
        batch_size=settings.check_batch_size,
    )


def build_discoverer(
    settings: Settings, context: AppContext, adapters: Mapping[str, EvmAdapter]
) -> Discoverer | None:
    """The discovery job's scanner of one process, or None when discovery is off."""
    if not settings.discovery_enabled:
        return None
    unknown = sorted(set(settings.discovery_start_block) - set(context.policy.networks))
    if unknown:
        raise InvalidInput(
            f"RECOVERY_DISCOVERY_START_BLOCK__{unknown[0].upper()}: unknown network; known: "
            + ", ".join(sorted(context.policy.networks))
        )
    return Discoverer(
        context.database,
        context.policy,
        adapters,
        context.clock,
        timing=DiscoveryTiming(
            lease=timedelta(seconds=settings.lease_seconds),
            max_range=settings.discovery_max_range,
            chunk_size=settings.discovery_chunk_size,
            whole_range_after=settings.discovery_whole_range_after,
            start_blocks={k.lower(): v for k, v in settings.discovery_start_block.items()},
        ),
    )


def hold_sqlite_lock(database_url: str) -> IO[str] | None:
    """Take `<dbfile>.lock` for the life of this process; None for PostgreSQL or memory.

    SQLite serves one process; a second `serve` or `worker` on the same file raises
    `SecondProcess`. The lock is `flock`, so it goes away with the process however it
    ends (a crash or SIGKILL leaves no stale lock behind). Keep the returned file open.
    """
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    path = Path(url.database).resolve().with_name(Path(url.database).name + ".lock")
    handle = path.open("a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise SecondProcess(
            f"another process (pid {holder}) already runs the service on SQLite file "
            f"{url.database}; SQLite is single-process: stop it first, or use PostgreSQL "
            "(RECOVERY_DATABASE_URL=postgresql://...) to run several processes"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def run_cycle(
    job: str, network: str, cycle: Callable[[], CycleReport], metrics: JobMetrics
) -> CycleReport | None:
    """Run one cycle, time it, count its errors and log what it did; never raise.

    A cycle that fails as a whole (database unreachable, say) is counted and logged; the
    scheduler runs it again at the next tick.
    """
    started = time.perf_counter()
    try:
        report = cycle()
    except Exception:
        metrics.record_failure(job, network, time.perf_counter() - started)
        log.exception("%s cycle for %s failed", job, network)
        return None
    metrics.record(job, network, report, time.perf_counter() - started)
    if report.claimed or report.errors or report.rpc_errors:
        log.info(
            "%s %s: claimed %d, moved %s, waiting %d, errors %d, rpc errors %s, conflicts %d",
            job,
            network,
            report.claimed,
            dict(report.moved),
            report.waiting,
            report.errors,
            dict(report.rpc_errors),
            report.conflicts,
        )
    return report


def _expire(checker: Checker) -> CycleReport:
    from recovery.review.expiry import expire_cycle

    report = CycleReport()
    expired = expire_cycle(checker.database, checker.clock)
    if expired:
        report.moved["expired"] += expired
    return report


def _escalate(checker: Checker) -> CycleReport:
    from recovery.review.routing import escalate_cycle

    report = CycleReport()
    moved = escalate_cycle(checker.database, checker.policy, checker.clock)
    if moved:
        report.moved["escalated"] += moved
    return report


def _pay(payouts: PayoutEngine) -> CycleReport:
    outcome = payouts.payout_cycle()
    report = CycleReport()
    report.claimed = outcome.claimed
    report.errors = outcome.errors
    for status, count in outcome.moved.items():
        report.moved[status] += count
    return report


def _discover(discoverer: Discoverer, network: str, metrics: JobMetrics) -> DiscoveryReport:
    report = discoverer.discover_cycle(network)
    metrics.record_discovery(network, report)
    if report.found or report.withdrawn:
        log.info(
            "discover %s: blocks %s..%s, found %s, withdrawn %d, %d requests",
            network,
            report.first,
            report.last,
            report.found,
            report.withdrawn,
            report.requests,
        )
    return report


def add_jobs(
    scheduler: BaseScheduler,
    checker: Checker,
    metrics: JobMetrics = PROCESS,
    payouts: PayoutEngine | None = None,
    discoverer: Discoverer | None = None,
) -> None:
    """Register every job on `scheduler`: per served network, verify, confirm and (with a
    discoverer) discover; expiry; payouts when the process has a signer."""
    policy = checker.policy
    served = sorted(checker.adapters)
    metrics.watch_adapters(checker.adapters)  # type: ignore[arg-type]
    now = datetime.now(UTC)

    def every(seconds: float, job: str, network: str, cycle: Callable[[], CycleReport]) -> None:
        scheduler.add_job(
            run_cycle,
            "interval",
            args=(job, network, cycle, metrics),
            seconds=seconds,
            id=f"{job}:{network}",
            max_instances=1,
            coalesce=True,
            # Start at once: whatever fell due while no process ran is caught up now.
            next_run_time=now,
            misfire_grace_time=max(1, int(seconds)),
        )

    for network in served:
        interval = poll_interval(policy.networks[network])
        every(interval, "verify", network, partial(checker.verify_cycle, [network]))
        every(interval, "confirm", network, partial(checker.confirm_cycle, [network]))
        if discoverer is not None:
            every(interval, "discover", network, partial(_discover, discoverer, network, metrics))
    unserved = sorted(set(policy.networks) - set(served))
    if unserved:
        # Claims on networks without RPC endpoints get a note saying so, once a minute.
        every(SLOWEST, "verify", "unserved", partial(checker.verify_cycle, unserved))
    every(EXPIRY_INTERVAL, "expire", "all", partial(_expire, checker))
    # Cases past their desk queue's target time escalate (policies/data/queues.yaml).
    every(EXPIRY_INTERVAL, "escalate", "all", partial(_escalate, checker))
    if payouts is not None and served:
        fastest = min(poll_interval(policy.networks[n]) for n in served)
        every(fastest, "payout", "all", partial(_pay, payouts))


def background(
    checker: Checker,
    metrics: JobMetrics = PROCESS,
    payouts: PayoutEngine | None = None,
    discoverer: Discoverer | None = None,
) -> BackgroundScheduler:
    """A started scheduler running the jobs in threads of this process."""
    scheduler = BackgroundScheduler(timezone="UTC")
    add_jobs(scheduler, checker, metrics, payouts, discoverer)
    scheduler.start()
    return scheduler


def blocking(
    checker: Checker,
    metrics: JobMetrics = PROCESS,
    payouts: PayoutEngine | None = None,
    discoverer: Discoverer | None = None,
) -> BlockingScheduler:
    """A scheduler that runs the jobs in the foreground (the `worker` command)."""
    scheduler = BlockingScheduler(timezone="UTC")
    add_jobs(scheduler, checker, metrics, payouts, discoverer)
    return scheduler
