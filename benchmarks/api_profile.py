"""Where the service's time goes under load: py-spy samples, summed by package and function."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import Engine, text

from benchmarks.api_drive import ENDPOINTS, LoadGenerator
from benchmarks.api_processes import CLOCK_TICKS, Server
from benchmarks.api_report import say

PROFILE_RATE = 200
# PostgreSQL 15 backends flush their statistics within 10 s of going idle.
STATS_FLUSH_SECONDS = 11.0
_COUNTERS = text(
    "SELECT sessions, xact_commit, xact_rollback FROM pg_stat_database "
    "WHERE datname = current_database()"
)


def _counters(engine: Engine) -> tuple[int, int, int]:
    """Sessions opened, transactions committed and rolled back, in the whole database."""
    with engine.connect() as connection:
        sessions, commits, rollbacks = connection.execute(_COUNTERS).one()
    return int(sessions), int(commits), int(rollbacks)


def _user_system(pid: int) -> tuple[float, float]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS


def profile(
    service: Server, generator: LoadGenerator, seconds: float, out: Path, engine: Engine
) -> None:
    """Per endpoint under 64 connections: py-spy on the thread holding the GIL, and what
    PostgreSQL counted (new connections, transactions) per request."""
    spy = shutil.which("py-spy")
    if spy is None:
        say("--profile: py-spy is not on PATH (pip install py-spy); skipped")
        return
    assert service.process is not None
    pid = service.process.pid
    for title, mode in ENDPOINTS:
        raw = out / f"profile-{mode}.txt"
        generator.settle()  # the last run's backlog is not this endpoint's profile
        time.sleep(STATS_FLUSH_SECONDS)
        before, (user, system) = _counters(engine), _user_system(pid)
        sampler = subprocess.Popen(
            [
                *(spy, "record", "--format", "raw", "--gil", "--nonblocking"),
                *("--rate", str(PROFILE_RATE), "-d", f"{int(seconds)}", "-o", str(raw)),
                *("-p", str(pid)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        run = generator.run(service, "service", mode, 64, seconds)
        sampler.wait(seconds + 30)
        user_after, system_after = _user_system(pid)
        generator.settle()
        time.sleep(STATS_FLUSH_SECONDS)
        sessions, commits, rollbacks = (
            (a - b) / max(run.requests, 1) for a, b in zip(_counters(engine), before, strict=True)
        )
        say(f"\nWhere the service's time goes on {title}, {run.rps:,.0f} req/s:")
        say(
            f"  PostgreSQL counted per request {sessions:.2f} new connections, {commits:.2f} "
            f"commits, {rollbacks:.2f} rollbacks; the service's CPU "
            f"{user_after - user:.1f} s user, {system_after - system:.1f} s system"
        )
        if not raw.exists():
            say(f"  py-spy wrote nothing for {title} (ptrace not allowed?)")
            continue
        for line in summarise_profile(raw, int(seconds) * PROFILE_RATE):
            say("  py-spy --gil: " + line)


def _where(frame: str) -> tuple[str, str]:
    """(function, package) of a py-spy frame `function (path:line)`."""
    function, _, rest = frame.partition(" (")
    path = rest.rstrip(")").rsplit(":", 1)[0]
    if path.startswith("<"):
        name = path[1:].split()[0].rstrip(">")
        return function, "python" if name in ("frozen", "string") else name
    parts = path.removesuffix(".py").split("/")
    if parts[0] == "recovery" and len(parts) > 1:
        return function, "/".join(parts[:2])
    return function, parts[0] if len(parts) > 1 else f"stdlib {parts[0]}"


def summarise_profile(raw: Path, possible: int, top: int = 12) -> list[str]:
    """Self time by package (the frame running), and time inside each service function."""
    own: Counter[str] = Counter()
    inside: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count, frames = int(count_text), [_where(f) for f in stack.split(";")]
        total += count
        own[frames[-1][1]] += count
        for function, package in {f for f in frames if f[1].startswith("recovery/")}:
            inside[f"{package.removeprefix('recovery/')}.{function}"] += count
    if not total:
        return ["no samples"]
    return [
        f"GIL held in {min(total / max(possible, 1), 1):.0%} of the samples; of those:",
        "self time by package: "
        + ", ".join(f"{p} {n / total:.0%}" for p, n in own.most_common(top)),
        "inside service functions: "
        + ", ".join(f"{p} {n / total:.0%}" for p, n in inside.most_common(top)),
    ]
