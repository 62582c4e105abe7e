"""The API benchmark's tables: load, CPU per request, targets, review queue and lists."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.api_drive import ENDPOINTS, Run

# The targets: service / ceiling at one process each.
TARGET_RATIO = {"get": 0.35, "list": 0.25, "post": 0.25}
TARGET_GET_P99_MS = 20.0
TARGET_WORKERS_GAIN = 1.6
TARGET_QUEUE_P95_MS = 20.0


def say(line: str = "") -> None:
    """Print a line at once (the run is long; the output is read as it goes)."""
    print(line, flush=True)


@dataclass
class Timing:
    """Latencies of one query, sequential requests on a kept-alive connection."""

    name: str
    p50_ms: float
    p95_ms: float
    samples: int
    items: int


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarise(runs: Sequence[Run], app: str, mode: str, connections: int) -> dict[str, float]:
    """Medians over the rounds of one app, endpoint and connection count."""
    mine = [r for r in runs if (r.app, r.mode, r.connections) == (app, mode, connections)]
    return {
        "rps": _median([r.rps for r in mine]),
        "p50_ms": _median([r.p50_ms for r in mine]),
        "p99_ms": _median([r.p99_ms for r in mine]),
        "app_cpu_us": _median([r.app_cpu_us for r in mine]),
        "db_cpu_us": _median([r.db_cpu_us for r in mine]),
        "generator_cpu_us": _median([r.generator_cpu_us for r in mine]),
        "rounds": len(mine),
    }


def verdict(ok: bool) -> str:
    """met / MISSED."""
    return "met" if ok else "MISSED"


def print_load(
    runs: Sequence[Run], apps: Sequence[str], connections: Sequence[int]
) -> dict[str, Any]:
    """The load table, the CPU table and the targets; returns the figures."""
    figures: dict[str, Any] = {}
    say(
        f"\n{'endpoint':<26}{'conns':>6} | {'ceiling req/s':>13}{'p50':>8}{'p99':>8} | "
        f"{'service req/s':>13}{'p50':>8}{'p99':>8} | {'ratio':>6}  target"
    )
    for title, mode in ENDPOINTS:
        for n in connections:
            c = summarise(runs, "ceiling", mode, n)
            s = summarise(runs, "service", mode, n)
            ratio = s["rps"] / c["rps"] if c["rps"] else float("nan")
            figures[f"{mode}@{n}"] = {"ceiling": c, "service": s, "ratio": ratio}
            target = f">= {TARGET_RATIO[mode]}x" if n == max(connections) else ""
            say(
                f"{title:<26}{n:>6} | {c['rps']:>13,.0f}{c['p50_ms']:>7.1f}m{c['p99_ms']:>7.1f}m"
                f" | {s['rps']:>13,.0f}{s['p50_ms']:>7.1f}m{s['p99_ms']:>7.1f}m | "
                f"{ratio:>5.2f}x  {target}"
            )
    say("(m: milliseconds; medians over the rounds)")
    say("\nCPU time per request (microseconds): app process(es) / PostgreSQL backends / generator")
    say(
        "  (PostgreSQL: the backends alive when a run ends; a connection the app opened and "
        "closed during the run is missing, so a churning pool reads low: see --profile)"
    )
    for title, mode in ENDPOINTS:
        n = max(connections)
        cells = []
        for app in apps:
            s = summarise(runs, app, mode, n)
            cells.append(
                f"{app} {s['app_cpu_us']:,.0f} / {s['db_cpu_us']:,.0f} / "
                f"{s['generator_cpu_us']:,.0f}"
            )
        say(f"  {title:<26} at {n}: " + ";  ".join(cells))
    bad = [r for r in runs if r.errors]
    for r in bad:
        say(f"  errors in {r.app} {r.mode} at {r.connections}: {r.errors}")
    say("\nTargets (one process each):")
    top = max(connections)
    for title, mode in ENDPOINTS:
        ratio = figures[f"{mode}@{top}"]["ratio"]
        say(
            f"  {title:<26} service / ceiling {ratio:.2f}x >= {TARGET_RATIO[mode]}x: "
            f"{verdict(ratio >= TARGET_RATIO[mode])}"
        )
    low = min(connections)
    p99 = figures[f"get@{low}"]["service"]["p99_ms"]
    say(
        f"  GET p99 at {low} connections {p99:.1f} ms < {TARGET_GET_P99_MS:g} ms: "
        f"{verdict(p99 < TARGET_GET_P99_MS)}"
    )
    return figures


def print_workers(runs: Sequence[Run], app: str, workers: int, connections: int) -> dict[str, Any]:
    """Throughput of N processes against one."""
    figures = {}
    say(f"\n--workers {workers}: service throughput at {connections} connections")
    for title, mode in ENDPOINTS:
        one = summarise(runs, "service", mode, connections)["rps"]
        many = summarise(runs, app, mode, connections)["rps"]
        gain = many / one if one else float("nan")
        figures[mode] = {"one": one, "many": many, "gain": gain}
        say(
            f"  {title:<26} 1 process {one:,.0f} req/s, {workers} processes {many:,.0f} req/s:"
            f" {gain:.2f}x >= {TARGET_WORKERS_GAIN}x: {verdict(gain >= TARGET_WORKERS_GAIN)}"
        )
    return figures


def print_timings(stages: dict[int, tuple[int, int, list[Timing]]]) -> dict[str, Any]:
    """The queue and list table, one column per stage."""
    sizes = sorted(stages)
    say("\nReview queue and a user's list: sequential requests, p50 / p95 in ms")
    header = "".join(f"{f'{stages[s][0]:,} cases ({stages[s][1]:,} in review)':>36}" for s in sizes)
    say(f"{'query':<42}{header}   target p95 < {TARGET_QUEUE_P95_MS:g} ms")
    names = [t.name for t in stages[sizes[-1]][2]]
    figures: dict[str, Any] = {}
    for name in names:
        cells, last = "", None
        for s in sizes:
            t = next((t for t in stages[s][2] if t.name == name), None)
            cells += (
                f"{f'{t.p50_ms:.1f} / {t.p95_ms:.1f} (n={t.samples}, {t.items} items)':>36}"
                if t
                else f"{'-':>36}"
            )
            if t:
                figures.setdefault(name, {})[str(s)] = t.__dict__
                last = t
        assert last is not None
        say(f"{name:<42}{cells}   {verdict(last.p95_ms < TARGET_QUEUE_P95_MS)}")
    return figures
