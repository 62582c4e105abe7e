"""Prometheus metrics: cases per state, job cycles, RPC traffic per network.

Everything lives in registries of our own, never prometheus-client's global one, so
that tests and several apps in one process do not see each other's series. Case counts,
ages and money are read from the database at most once per refresh interval
(RECOVERY_METRICS_REFRESH_SECONDS) and served from that snapshot meanwhile; job and RPC
figures are kept by the process that runs the jobs (`serve`, or a `worker` with
RECOVERY_WORKER_METRICS_PORT).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from chains.evm.endpoints import EndpointState, NetworkEndpoints
from policies.routing import load_routing
from recovery.db.engine import Database
from recovery.db.tables import CaseRow, LedgerEntryRow, PayoutRow
from recovery.domain.states import TRANSITIONS, CaseStatus

CONTENT_TYPE = CONTENT_TYPE_LATEST
# A cycle is a few milliseconds when idle and seconds over thousands of cases.
_CYCLE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class CountedAdapter(Protocol):
    """A chain adapter that counts its HTTP requests and their failures."""

    network: str

    def endpoint_report(self) -> NetworkEndpoints:
        """Each endpoint's state, last head and failures, and the highest head seen."""
        ...

    @property
    def calls(self) -> int:
        """HTTP requests sent."""
        ...

    @property
    def errors(self) -> int:
        """HTTP requests that failed."""
        ...


class CycleOutcome(Protocol):
    """What a job cycle reports back (see `CycleReport`)."""

    errors: int
    conflicts: int
    rpc_errors: dict[str, int]
    moved: dict[str, int]


class DiscoveryOutcome(Protocol):
    """What `record_discovery` reads of a discovery cycle's report."""

    found: dict[str, int]
    withdrawn: int
    requests: int

    @property
    def lag(self) -> int | None:
        """Blocks behind the head."""
        ...

    @property
    def blocks(self) -> int:
        """Blocks read."""
        ...


class _RpcCollector(Collector):
    """RPC requests and failures per network, read from the adapters' own counters."""

    def __init__(self, jobs: JobMetrics) -> None:
        self.jobs = jobs

    def collect(self) -> Iterator[Metric]:
        calls = CounterMetricFamily(
            "recovery_rpc_requests",
            "HTTP requests to a network's RPC endpoints (a JSON-RPC batch counts once).",
            labels=["network"],
        )
        errors = CounterMetricFamily(
            "recovery_rpc_errors",
            "HTTP requests to a network's RPC endpoints that failed.",
            labels=["network"],
        )
        reports = []
        for network, adapter in sorted(self.jobs.adapters().items()):
            calls.add_metric([network], adapter.calls)
            errors.add_metric([network], adapter.errors)
            reports.append(adapter.endpoint_report())
        yield calls
        yield errors
        yield from _endpoint_metrics(reports)


def _endpoint_metrics(reports: list[NetworkEndpoints]) -> Iterator[Metric]:
    """Per endpoint: its state (one series per state, 1 for the current one), last head,
    failures, lagging and contradicting answers, rest left; per network: the highest
    head seen and the failovers."""
    by_endpoint = ["network", "endpoint"]
    state = GaugeMetricFamily(
        "recovery_rpc_endpoint_state",
        "1 for the endpoint's current state (untried, alive, lagging, unreachable), else 0.",
        labels=[*by_endpoint, "state"],
    )
    head = GaugeMetricFamily(
        "recovery_rpc_endpoint_head", "The head the endpoint last answered.", labels=by_endpoint
    )
    failed = CounterMetricFamily(
        "recovery_rpc_endpoint_errors",
        "Requests to the endpoint that failed, and answers that contradicted themselves.",
        labels=by_endpoint,
    )
    lagged = CounterMetricFamily(
        "recovery_rpc_endpoint_lagged",
        "Heads the endpoint answered below its network's highest head (not used).",
        labels=by_endpoint,
    )
    contradicted = CounterMetricFamily(
        "recovery_rpc_endpoint_contradictions",
        "Answers that contradicted themselves (a block missing below the endpoint's head).",
        labels=by_endpoint,
    )
    resting = GaugeMetricFamily(
        "recovery_rpc_endpoint_resting_seconds",
        "Seconds until a repeatedly failing endpoint is tried again (0: not resting).",
        labels=by_endpoint,
    )
    highest = GaugeMetricFamily(
        "recovery_network_head",
        "The highest head any endpoint of the network has shown this process.",
        labels=["network"],
    )
    failovers = CounterMetricFamily(
        "recovery_rpc_failovers",
        "Times requests moved from one endpoint of the network to another.",
        labels=["network"],
    )
    for report in reports:
        if report.highest_head is not None:
            highest.add_metric([report.network], report.highest_head)
        failovers.add_metric([report.network], report.failovers)
        for endpoint in report.endpoints:
            labels = [report.network, endpoint.name]
            for name in EndpointState:
                state.add_metric([*labels, name.value], 1.0 if endpoint.state == name else 0.0)
            if endpoint.last_head is not None:
                head.add_metric(labels, endpoint.last_head)
            failed.add_metric(labels, endpoint.errors)
            lagged.add_metric(labels, endpoint.lagged)
            contradicted.add_metric(labels, endpoint.contradictions)
            resting.add_metric(labels, endpoint.resting_seconds)
    yield from (state, head, failed, lagged, contradicted, resting, highest, failovers)


class JobMetrics:
    """The figures one process keeps about its jobs and the chain adapters they use."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.cycle_seconds = Histogram(
            "recovery_cycle_duration_seconds",
            "Time one job cycle took.",
            ["job", "network"],
            buckets=_CYCLE_BUCKETS,
            registry=self.registry,
        )
        self.cycle_errors = Counter(
            "recovery_cycle_errors",
            "Errors met by job cycles: case (one case failed), rpc (a network's RPC failed), "
            "cycle (the whole cycle failed, e.g. the database was unreachable).",
            ["job", "network", "kind"],
            registry=self.registry,
        )
        self.conflicts = Counter(
            "recovery_cycle_conflicts",
            "Cases another process or a user changed while a job checked them.",
            ["job", "network"],
            registry=self.registry,
        )
        self.moved = Counter(
            "recovery_cases_moved",
            "State changes made by the jobs, by the state entered.",
            ["job", "network", "to"],
            registry=self.registry,
        )
        self.found = Counter(
            "recovery_discovery_found",
            "Mis-sent deposits the discovery job found, per network and kind.",
            ["network", "kind"],
            registry=self.registry,
        )
        self.withdrawn = Counter(
            "recovery_discovery_withdrawn",
            "Found deposits withdrawn because their block was reorged out.",
            ["network"],
            registry=self.registry,
        )
        self.scan_lag = Gauge(
            "recovery_discovery_lag_blocks",
            "Blocks between a network's head and the last block the discovery job read.",
            ["network"],
            registry=self.registry,
        )
        self.scan_calls = Gauge(
            "recovery_discovery_calls_per_block",
            "RPC requests per block read in a network's last discovery cycle.",
            ["network"],
            registry=self.registry,
        )
        self._adapters: dict[str, CountedAdapter] = {}
        self._lock = threading.Lock()
        self.registry.register(_RpcCollector(self))

    def watch_adapters(self, adapters: Mapping[str, CountedAdapter]) -> None:
        """Report these adapters' request and error counts (the latest one per network)."""
        with self._lock:
            self._adapters.update(adapters)

    def adapters(self) -> dict[str, CountedAdapter]:
        """The adapters being reported, per network."""
        with self._lock:
            return dict(self._adapters)

    def record(self, job: str, network: str, outcome: CycleOutcome, seconds: float) -> None:
        """Count one finished cycle."""
        self.cycle_seconds.labels(job, network).observe(seconds)
        if outcome.errors:
            self.cycle_errors.labels(job, network, "case").inc(outcome.errors)
        rpc_errors = sum(outcome.rpc_errors.values())
        if rpc_errors:
            self.cycle_errors.labels(job, network, "rpc").inc(rpc_errors)
        if outcome.conflicts:
            self.conflicts.labels(job, network).inc(outcome.conflicts)
        for state, count in outcome.moved.items():
            self.moved.labels(job, network, state).inc(count)

    def record_discovery(self, network: str, report: DiscoveryOutcome) -> None:
        """Count what one discovery cycle found, how far behind it is and what it cost."""
        for kind, count in report.found.items():
            self.found.labels(network, kind).inc(count)
        if report.withdrawn:
            self.withdrawn.labels(network).inc(report.withdrawn)
        if report.lag is not None:
            self.scan_lag.labels(network).set(report.lag)
        if report.blocks:
            self.scan_calls.labels(network).set(report.requests / report.blocks)

    def record_failure(self, job: str, network: str, seconds: float) -> None:
        """Count a cycle that failed as a whole."""
        self.cycle_seconds.labels(job, network).observe(seconds)
        self.cycle_errors.labels(job, network, "cycle").inc()


# The process's own figures: the scheduler records into it, /metrics reads it.
PROCESS = JobMetrics()


def census(session: Session) -> dict[str, tuple[int, datetime | None]]:
    """Per state: how many cases, and when the longest-waiting one last changed state."""
    rows = session.execute(
        select(col(CaseRow.status), func.count(), func.min(col(CaseRow.updated_at))).group_by(
            col(CaseRow.status)
        )
    )
    return {str(status): (int(count), oldest) for status, count, oldest in rows}


@dataclass(frozen=True)
class DatabaseFigures:
    """What a scrape shows from the database, read in one transaction."""

    # Per state: how many cases, and when the longest-waiting one last changed state.
    cases: dict[str, tuple[int, datetime | None]]
    # Booked on delivered payouts, per (kind, network, token), in base units.
    ledger: dict[tuple[str, str, str], int]
    # Per (network, token): base units that arrived, and payouts that brought less.
    delivered: dict[tuple[str, str], tuple[int, int]]
    # Per desk queue: cases waiting in review, and when each came to the desk.
    desk: dict[str, list[datetime]] = field(default_factory=dict)


def read_figures(session: Session) -> DatabaseFigures:
    """The case census, the ledger's totals and the delivered payouts' sums."""
    ledger: dict[tuple[str, str, str], int] = {}
    for kind, network, token, amount in session.execute(
        select(
            col(LedgerEntryRow.kind),
            col(LedgerEntryRow.network),
            col(LedgerEntryRow.token),
            col(LedgerEntryRow.amount),
        )
    ):
        key = (str(kind), str(network), str(token))
        ledger[key] = ledger.get(key, 0) + int(amount)
    delivered: dict[tuple[str, str], tuple[int, int]] = {}
    for network, token, amount, arrived in session.execute(
        select(
            col(PayoutRow.network),
            col(PayoutRow.token),
            col(PayoutRow.amount),
            col(PayoutRow.delivered_amount),
        ).where(col(PayoutRow.delivered_amount).is_not(None))
    ):
        total, short = delivered.get((str(network), str(token)), (0, 0))
        delivered[(str(network), str(token))] = (
            total + (arrived or 0),
            short + ((arrived or 0) < amount),
        )
    return DatabaseFigures(
        cases=census(session), ledger=ledger, delivered=delivered, desk=desk_waiting(session)
    )


def desk_waiting(session: Session) -> dict[str, list[datetime]]:
    """Per desk queue, when each case waiting in review came to the desk (unrouted ones
    under "none")."""
    waiting: dict[str, list[datetime]] = {}
    for queue, since in session.execute(
        select(
            col(CaseRow.queue), func.coalesce(col(CaseRow.queued_at), col(CaseRow.updated_at))
        ).where(col(CaseRow.status) == CaseStatus.IN_REVIEW.value)
    ):
        waiting.setdefault(str(queue or "none"), []).append(since)
    return waiting


def _desk_metrics(figures: DatabaseFigures, now: datetime) -> Iterator[Metric]:
    routing = load_routing()
    waiting = GaugeMetricFamily(
        "recovery_desk_waiting", "Cases waiting for a decision, per desk queue.", labels=["queue"]
    )
    oldest = GaugeMetricFamily(
        "recovery_desk_oldest_seconds",
        "Seconds the longest-waiting case of a desk queue has waited.",
        labels=["queue"],
    )
    breaches = GaugeMetricFamily(
        "recovery_desk_breaches",
        "Cases waiting past their queue's target time to a first decision.",
        labels=["queue"],
    )
    for queue in sorted(set(routing.queues) | set(figures.desk)):
        since = figures.desk.get(queue, [])
        target = routing.queues[queue].target if queue in routing.queues else None
        waiting.add_metric([queue], len(since))
        oldest.add_metric([queue], max(((now - s).total_seconds() for s in since), default=0.0))
        late = sum(1 for s in since if target is not None and now - s > target)
        breaches.add_metric([queue], late)
    yield waiting
    yield oldest
    yield breaches


class FiguresSnapshot:
    """The database figures, read at most once per `refresh_seconds` and shared meanwhile.

    A flood of scrapes costs the database one read per interval: scrapes that arrive
    while it runs wait for it instead of starting their own. 0 reads on every scrape.
    """

    def __init__(
        self,
        database: Database,
        refresh_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database = database
        self.refresh_seconds = refresh_seconds
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._figures: DatabaseFigures | None = None
        self._read_at = 0.0

    def figures(self) -> DatabaseFigures:
        """The latest figures, read again when older than the interval."""
        with self._lock:
            now = self.monotonic()
            if self._figures is None or now - self._read_at >= self.refresh_seconds:
                with self.database.unit_of_work() as session:
                    self._figures = read_figures(session)
                self._read_at = now
            return self._figures


class DatabaseCollector(Collector):
    """Cases per state, the oldest case's age per open state, and money counted from what
    the chain showed arrived (delivered payouts, fees and gas), from one snapshot.

    Fee entries exist only for delivered payouts (and are removed again if a payout is
    reorged out before it is final), so the fee income here never counts a refund that did
    not arrive. Values are base units of each token (floats, as Prometheus keeps them).
    Ages are measured at scrape time from the snapshot's timestamps.
    """

    def __init__(self, snapshot: FiguresSnapshot, clock: Callable[[], datetime]) -> None:
        self.snapshot = snapshot
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        figures = self.snapshot.figures()
        yield from _case_metrics(figures.cases, self.clock())
        yield from _money_metrics(figures)
        yield from _desk_metrics(figures, self.clock())


def _case_metrics(
    counts: dict[str, tuple[int, datetime | None]], now: datetime
) -> Iterator[Metric]:
    cases = GaugeMetricFamily("recovery_cases", "Cases per state.", labels=["state"])
    ages = GaugeMetricFamily(
        "recovery_oldest_case_age_seconds",
        "Seconds since the longest-waiting case in a state entered it (open states).",
        labels=["state"],
    )
    for state in CaseStatus:
        count, oldest = counts.get(state.value, (0, None))
        cases.add_metric([state.value], count)
        if TRANSITIONS[state]:  # final states only grow older; nobody waits on them
            age = (now - oldest).total_seconds() if oldest is not None else 0.0
            ages.add_metric([state.value], max(0.0, age))
    yield cases
    yield ages


def _money_metrics(figures: DatabaseFigures) -> Iterator[Metric]:
    booked = GaugeMetricFamily(
        "recovery_ledger_base_units",
        "Booked on delivered payouts, by kind (fee, gas), network and token.",
        labels=["kind", "network", "token"],
    )
    for key, total in sorted(figures.ledger.items()):
        booked.add_metric(list(key), float(total))
    delivered = GaugeMetricFamily(
        "recovery_payouts_delivered_base_units",
        "What the chain shows arrived at refund addresses, by network and token.",
        labels=["network", "token"],
    )
    shortfalls = GaugeMetricFamily(
        "recovery_payout_shortfalls",
        "Delivered payouts that brought less than approved (the token kept part).",
        labels=["network", "token"],
    )
    for (network, token), (arrived_total, short) in sorted(figures.delivered.items()):
        delivered.add_metric([network, token], float(arrived_total))
        shortfalls.add_metric([network, token], short)
    yield booked
    yield delivered
    yield shortfalls


class _Forward(Collector):
    """Shows another registry's metrics (the process's job figures) in a scrape."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()


def registry_for(
    database: Database,
    clock: Callable[[], datetime],
    jobs: JobMetrics = PROCESS,
    *,
    refresh_seconds: float = 0.0,
    monotonic: Callable[[], float] = time.monotonic,
) -> CollectorRegistry:
    """A registry with the cases of `database` (read at most once per `refresh_seconds`)
    and the job figures of `jobs`."""
    registry = CollectorRegistry(auto_describe=False)
    snapshot = FiguresSnapshot(database, refresh_seconds, monotonic)
    registry.register(DatabaseCollector(snapshot, clock))
    registry.register(_Forward(jobs.registry))
    return registry


def scrape(database: Database, clock: Callable[[], datetime], jobs: JobMetrics = PROCESS) -> bytes:
    """Every metric in the Prometheus text format, the database read afresh."""
    return generate_latest(registry_for(database, clock, jobs))
