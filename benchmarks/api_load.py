"""The service's API under load, side by side with a ceiling app on the same PostgreSQL.

    .venv/bin/python -m benchmarks.api_load [--cases 100000] [--owners 1000] [--duration 10]
        [--workers 1] [--queue-cases 1000000] [--rounds 3] [--quick] [--profile]

1. Creates a database of its own (`--database`, default recovery_bench, on the local
   server; dropped at the end), migrates it with the service's migrations, and seeds
   owners (a user key and a deposit address each) and a reviewer.
2. Starts the service (`recovery serve`, one process, no scheduler, no chains) and the
   ceiling app (benchmarks/api_ceiling.py: Starlette + raw asyncpg under uvicorn), each
   in a process group of its own. With `--workers N` it also starts `recovery serve
   --workers N` when the service has that option (and says "not supported" otherwise).
3. Seeds cases in bulk, in stages: 10,000 (the review queue and a user's list are timed),
   `--cases` (the load runs), `--queue-cases` (the queue and the list are timed again, to
   show whether they stay flat).
4. Load: wrk (Debian's package) when on PATH, else benchmarks/api_loadgen.py; the same
   requests for both apps (benchmarks/api_load.lua), at 64 and 8 connections, runs
   interleaved (ceiling, service, ceiling, service, ...) so that noise hits both. Prints
   req/s, p50 and p99 per endpoint and app, the ratio service / ceiling, the CPU time per
   request of the app, of PostgreSQL and of the load generator, and the issue's targets.
5. `--profile`: one more run per endpoint with py-spy sampling the service; prints where
   its time goes, by package.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, text

from benchmarks.api_seed import (
    CEILING_TABLE,
    NETWORKS,
    SERVER,
    BenchDatabase,
    CaseSeeder,
    Owner,
    appeal_body,
    run_nonce,
    seed_people,
    write_helpers,
)

ROOT = Path(__file__).resolve().parents[1]
LUA = Path(__file__).with_name("api_load.lua")
SMALL = 10_000
ENDPOINTS = (
    ("GET /v1/appeals/{id}", "get"),
    ("GET /v1/appeals?limit=50", "list"),
    ("POST /v1/appeals", "post"),
)
# The targets: service / ceiling at one process each.
TARGET_RATIO = {"get": 0.35, "list": 0.25, "post": 0.25}
TARGET_GET_P99_MS = 20.0
TARGET_WORKERS_GAIN = 1.6
TARGET_QUEUE_P95_MS = 20.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def say(line: str = "") -> None:
    """Print a line at once (the run is long; the output is read as it goes)."""
    print(line, flush=True)


# ---------------------------------------------------------------- processes and CPU time


def _cpu_of(pid: int) -> float:
    """User + system seconds of one process, 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _processes() -> Iterator[tuple[int, int, bytes]]:
    """(pid, parent pid, command line) of every process we may read."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        yield int(entry), int(stat[1]), cmdline


def tree_cpu(root: int) -> dict[int, float]:
    """CPU seconds of `root` and each of its descendants, by pid."""
    children: dict[int, list[int]] = defaultdict(list)
    for pid, parent, _ in _processes():
        children[parent].append(pid)
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        found[pid] = _cpu_of(pid)
        todo.extend(children.get(pid, []))
    return found


def backends_cpu(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to `database`, by pid."""
    marker = f" {database} ".encode()
    return {
        pid: _cpu_of(pid)
        for pid, _, cmdline in _processes()
        if cmdline.startswith(b"postgres: ") and marker in cmdline.replace(b"\0", b" ")
    }


def _spent(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(after[pid] - before.get(pid, 0.0) for pid in after)


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A server in its own process group; `stop()` ends the whole group."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    port: int
    ready_path: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, cwd: Path, timeout: float = 60.0) -> None:
        """Start it and wait until `ready_path` answers 200."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited at start:\n{self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + self.ready_path, timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise SystemExit(f"{self.name} did not answer {self.ready_path} in {timeout}s")

    def tail(self, lines: int = 30) -> str:
        """The end of its log."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def cpu(self) -> dict[int, float]:
        """CPU seconds of its processes."""
        assert self.process is not None
        return tree_cpu(self.process.pid)

    def stop(self) -> None:
        """SIGTERM to the group, SIGKILL after 10 s."""
        if self.process is None or self.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue


def child_env(**extra: str) -> dict[str, str]:
    """This environment, with this checkout first on the import path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECOVERY_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


def recovery_command() -> list[str]:
    """`recovery` of this interpreter, importing this checkout's package."""
    return [sys.executable, "-c", "from recovery.cli import app; app()"]


def serve_supports_workers() -> bool:
    """True when `recovery serve --help` offers --workers."""
    done = subprocess.run(
        [*recovery_command(), "serve", "--help"],
        env=child_env(COLUMNS="200"),
        capture_output=True,
        text=True,
        check=False,
    )
    return "--workers" in done.stdout


# ---------------------------------------------------------------- load generation


@dataclass
class Run:
    """One load run of one app on one endpoint."""

    app: str
    mode: str
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: dict[str, int]
    app_cpu_us: float
    db_cpu_us: float
    generator_cpu_us: float


@dataclass
class LoadGenerator:
    """wrk with benchmarks/api_load.lua, or benchmarks/api_loadgen.py."""

    kind: str
    datafile: Path
    database: str
    runs: int = 0
    processes: int = 1
    label: str = field(default="")
    # Every app under test: each run starts when all of them are idle.
    servers: list[Server] = field(default_factory=list)

    def settle(self, limit: float = 30.0) -> None:
        """Wait until the apps and the database are idle: a backlog of the last run drained.

        A server keeps working through requests it had accepted when the generator of
        the previous run closed its connections; that work must not land in this run.
        """
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            before = [s.cpu() for s in self.servers] + [backends_cpu(self.database)]
            time.sleep(0.25)
            after = [s.cpu() for s in self.servers] + [backends_cpu(self.database)]
            if sum(_spent(b, a) for b, a in zip(before, after, strict=True)) < 0.25 * 0.1:
                return

    def command(self, url: str, mode: str, connections: int, seconds: float) -> list[str]:
        """The command line of one run."""
        self.runs += 1
        nonce = f"{int(run_nonce(), 16) ^ self.runs:08x}"
        if self.kind == "wrk":
            return [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds:g}s",
                "--timeout",
                "10s",
                "-s",
                str(LUA),
                url,
                "--",
                mode,
                str(self.datafile),
                nonce,
            ]
        return [
            sys.executable,
            "-m",
            "benchmarks.api_loadgen",
            url,
            mode,
            str(self.datafile),
            nonce,
            "--connections",
            str(connections),
            "--duration",
            f"{seconds:g}",
            "--processes",
            str(self.processes),
        ]

    def run(self, server: Server, app: str, mode: str, connections: int, seconds: float) -> Run:
        """Drive `server` for `seconds`; its result and the CPU time each side spent."""
        self.settle()
        app_before, db_before = server.cpu(), backends_cpu(self.database)
        with tempfile.TemporaryFile() as out:
            process = subprocess.Popen(
                self.command(server.url, mode, connections, seconds),
                stdout=out,
                stderr=subprocess.STDOUT,
                env=child_env(),
                cwd=ROOT,
            )
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            output = out.read().decode(errors="replace")
        app_spent = _spent(app_before, server.cpu())
        db_spent = _spent(db_before, backends_cpu(self.database))
        lines = [line for line in output.splitlines() if line.startswith("{")]
        if process.returncode != 0 or not lines:
            raise SystemExit(f"the load generator failed on {app} {mode}:\n{output}")
        found = json.loads(lines[-1])
        requests = max(int(found["requests"]), 1)
        return Run(
            app=app,
            mode=mode,
            connections=connections,
            rps=found["requests"] / found["seconds"],
            p50_ms=found["p50_ms"],
            p99_ms=found["p99_ms"],
            errors={k: v for k, v in found["errors"].items() if v},
            app_cpu_us=app_spent / requests * 1e6,
            db_cpu_us=db_spent / requests * 1e6,
            generator_cpu_us=(usage.ru_utime + usage.ru_stime) / requests * 1e6,
        )


def pick_generator(choice: str, datafile: Path, database: str) -> LoadGenerator:
    """wrk when asked for or found on PATH (else the Python generator)."""
    if choice in ("auto", "wrk") and shutil.which("wrk"):
        version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
        generator = LoadGenerator("wrk", datafile, database)
        words = (version.stdout or version.stderr).split()
        generator.label = f"wrk {words[1] if len(words) > 1 else ''} (1 thread, api_load.lua)"
        return generator
    if choice == "wrk":
        raise SystemExit(
            "wrk is not on PATH: `apt-get install -y wrk` (Debian), or --generator python"
        )
    generator = LoadGenerator("python", datafile, database)
    generator.label = "benchmarks/api_loadgen.py (asyncio, raw sockets, 1 process)"
    return generator


# ---------------------------------------------------------------- the benchmark's data


def verdict_templates(service: Server, owner: Owner) -> dict[str, dict[str, Any]]:
    """The service's own verdict (preview) of a 1-coin appeal on each seeded network."""
    found = {}
    with httpx.Client(base_url=service.url, timeout=30) as client:
        for network, _, _ in NETWORKS:
            answer = client.post(
                "/v1/eligibility",
                json=appeal_body(owner, network, "0x" + "ee" * 32),
                headers={"Authorization": f"Bearer {owner.key}"},
            )
            if answer.status_code != 200:
                raise SystemExit(f"eligibility preview on {network}: {answer.text}")
            found[network] = answer.json()
    return found


def write_datafile(engine: Engine, owners: Sequence[Owner], path: Path, per_owner: int) -> None:
    """One line per owner: key, deposit address, refund address, a network, case ids."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT claimant, array_agg(id) FROM (SELECT claimant, id, row_number() OVER "
                "(PARTITION BY claimant ORDER BY md5(id)) AS n FROM cases) AS c "
                "WHERE n <= :k GROUP BY claimant"
            ),
            {"k": per_owner},
        )
        cases = dict(rows.all())
    networks = [n for n, _, _ in NETWORKS]
    lines = [
        " ".join(
            [o.key, o.deposit_address, o.refund_address, networks[i % len(networks)]]
            + cases[o.subject]
        )
        for i, o in enumerate(owners)
        if o.subject in cases
    ]
    path.write_text("\n".join(lines) + "\n")


def check_app(server: Server, owner: Owner, case_id: str, page_size: int) -> None:
    """Each endpoint answers as it should before any load (a wrong seed shows here)."""
    auth = {"Authorization": f"Bearer {owner.key}"}
    with httpx.Client(base_url=server.url, timeout=30, headers=auth) as client:
        one = client.get(f"/v1/appeals/{case_id}")
        page = client.get("/v1/appeals", params={"limit": 50})
        filed = client.post(
            "/v1/appeals",
            json=appeal_body(owner, "bsc", f"0x{int(run_nonce(), 16):064x}"),
        )
    problems = []
    if one.status_code != 200 or one.json().get("id") != case_id:
        problems.append(f"GET one case: {one.status_code} {one.text[:300]}")
    if page.status_code != 200 or len(page.json().get("items", [])) < page_size:
        problems.append(f"GET a page: {page.status_code} {page.text[:300]}")
    if filed.status_code != 201:
        problems.append(f"POST: {filed.status_code} {filed.text[:300]}")
    if problems:
        raise SystemExit(f"{server.name} does not answer as expected:\n" + "\n".join(problems))


# ---------------------------------------------------------------- review queue timing


@dataclass
class Timing:
    """Latencies of one query, sequential requests on a kept-alive connection."""

    name: str
    p50_ms: float
    p95_ms: float
    samples: int
    items: int


def time_queries(
    service: Server, reviewer: str, owner: Owner, *, samples: int, budget: float
) -> list[Timing]:
    """The review queue (default, network filter) and a user's list, pages 1 and 2."""
    user = {"Authorization": f"Bearer {owner.key}"}
    desk = {"Authorization": f"Bearer {reviewer}"}
    with httpx.Client(base_url=service.url, timeout=300) as client:
        first = client.get("/v1/appeals", params={"limit": 50}, headers=user).json()
        queries: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
            ("GET /v1/review/queue", "/v1/review/queue", {}, desk),
            (
                "GET /v1/review/queue?network=polygon",
                "/v1/review/queue",
                {"network": "polygon"},
                desk,
            ),
            ("GET /v1/appeals?limit=50 (user)", "/v1/appeals", {"limit": 50}, user),
        ]
        if first.get("next_cursor"):
            queries.append(
                (
                    "GET /v1/appeals?limit=50&cursor= (page 2)",
                    "/v1/appeals",
                    {"limit": 50, "cursor": first["next_cursor"]},
                    user,
                )
            )
        found = []
        for name, path, params, headers in queries:
            items = 0
            for _ in range(3):
                answer = client.get(path, params=params, headers=headers)
                if answer.status_code != 200:
                    raise SystemExit(f"{name}: {answer.status_code} {answer.text[:300]}")
                items = len(answer.json()["items"])
            latencies: list[float] = []
            deadline = time.perf_counter() + budget
            while len(latencies) < samples and (
                len(latencies) < 5 or time.perf_counter() < deadline
            ):
                started = time.perf_counter()
                client.get(path, params=params, headers=headers).raise_for_status()
                latencies.append((time.perf_counter() - started) * 1000)
            latencies.sort()
            found.append(
                Timing(
                    name,
                    statistics.median(latencies),
                    latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
                    len(latencies),
                    items,
                )
            )
    return found


def counts(engine: Engine) -> tuple[int, int]:
    """Cases, and cases in review, now in the database."""
    with engine.connect() as connection:
        total = connection.execute(text("SELECT count(*) FROM cases")).scalar_one()
        review = connection.execute(
            text("SELECT count(*) FROM cases WHERE status = 'in_review'")
        ).scalar_one()
    return int(total), int(review)


# ---------------------------------------------------------------- profile (py-spy)


PROFILE_RATE = 200


def profile(service: Server, generator: LoadGenerator, seconds: float, out: Path) -> None:
    """Sample the service (the thread holding the GIL) under 64 connections per endpoint."""
    spy = shutil.which("py-spy")
    if spy is None:
        say("--profile: py-spy is not on PATH (pip install py-spy); skipped")
        return
    assert service.process is not None
    for title, mode in ENDPOINTS:
        raw = out / f"profile-{mode}.txt"
        sampler = subprocess.Popen(
            [
                *(spy, "record", "--format", "raw", "--gil", "--nonblocking"),
                *("--rate", str(PROFILE_RATE), "-d", f"{int(seconds)}", "-o", str(raw)),
                *("-p", str(service.process.pid)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        run = generator.run(service, "service", mode, 64, seconds)
        sampler.wait(seconds + 30)
        if not raw.exists():
            say(f"--profile: py-spy wrote nothing for {title} (ptrace not allowed?)")
            continue
        say(f"\nWhere the service's time goes on {title}, {run.rps:,.0f} req/s (py-spy --gil):")
        for line in summarise_profile(raw, int(seconds) * PROFILE_RATE):
            say("  " + line)


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


# ---------------------------------------------------------------- report


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


# ---------------------------------------------------------------- main


def interleaved(
    generator: LoadGenerator,
    apps: Sequence[tuple[str, Server]],
    connections: Sequence[int],
    *,
    rounds: int,
    seconds: float,
    warmup: float,
) -> list[Run]:
    """Every endpoint, warm first, then round after round of each app in turn."""
    runs: list[Run] = []
    for title, mode in ENDPOINTS:
        for name, server in apps:
            generator.run(server, name, mode, max(connections), warmup)
        for n in connections:
            for round_number in range(1, rounds + 1):
                for name, server in apps:
                    run = generator.run(server, name, mode, n, seconds)
                    runs.append(run)
                    say(
                        f"  {title:<26} {n:>3} conns round {round_number}: {name:<12} "
                        f"{run.rps:>8,.0f} req/s  p50 {run.p50_ms:6.1f} ms  "
                        f"p99 {run.p99_ms:6.1f} ms"
                        + (f"  errors {run.errors}" if run.errors else "")
                    )
    return runs


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000, help="cases during the load runs")
    parser.add_argument("--owners", type=int, default=1_000)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs per app")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds per app and endpoint")
    parser.add_argument("--workers", type=int, default=1, help="also run the service with N")
    parser.add_argument("--queue-cases", type=int, default=1_000_000)
    parser.add_argument("--connections", default="64,8", help="comma-separated")
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--database", default="recovery_bench")
    parser.add_argument("--server", default=SERVER, help="PostgreSQL server (trust auth)")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--profile", action="store_true", help="py-spy the service at the end")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 10,000 cases, 100 owners, 3 s, 1 round"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.cases, args.owners, args.duration, args.rounds, args.warmup = 10_000, 100, 3, 1, 1
        args.queue_cases = min(args.queue_cases, 50_000)
    if importlib.util.find_spec("asyncpg") is None:
        raise SystemExit("the ceiling app needs asyncpg: pip install asyncpg (in the dev extra)")
    connections = [int(n) for n in args.connections.split(",")]
    # SIGTERM (and the shell's SIGHUP) end the run like Ctrl-C: every `finally` runs.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(1))

    say(f"command: python -m benchmarks.api_load {' '.join(sys.argv[1:])}")
    say(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    database = BenchDatabase(args.database, args.server)
    with tempfile.TemporaryDirectory(prefix="api_load-") as tmp, contextlib.ExitStack() as stack:
        work = Path(tmp)
        started = time.perf_counter()
        engine = database.create()
        if not args.keep_database:
            stack.callback(database.drop)
        owners, reviewer = seed_people(engine, args.owners)
        with engine.begin() as connection:
            connection.execute(text(CEILING_TABLE))
        keys = work / "keys.json"
        keys.write_text(json.dumps({f"Bearer {o.key}": o.subject for o in owners}))
        say(
            f"database {database.url}: migrated, {len(owners):,} owners with keys and deposit "
            f"addresses, in {time.perf_counter() - started:.1f}s"
        )

        service_env = child_env(
            RECOVERY_DATABASE_URL=database.url,
            RECOVERY_SCHEDULER_ENABLED="false",
            RECOVERY_ENVIRONMENT="development",
        )
        service_port = free_port()
        service = Server(
            "service",
            [*recovery_command(), "serve", "--host", "127.0.0.1", "--port", str(service_port)],
            service_env,
            work / "service.log",
            service_port,
            "/healthz",
        )
        ceiling_port = free_port()
        ceiling = Server(
            "ceiling",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "benchmarks.api_ceiling:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(ceiling_port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            child_env(BENCH_DATABASE_URL=database.url, BENCH_KEYS_FILE=str(keys)),
            work / "ceiling.log",
            ceiling_port,
            "/ping",
        )
        for server in (service, ceiling):
            stack.callback(server.stop)
            server.start(work)
        apps: list[tuple[str, Server]] = [("ceiling", ceiling), ("service", service)]
        workers_note = None
        if args.workers > 1:
            if serve_supports_workers():
                port = free_port()
                many = Server(
                    f"service x{args.workers}",
                    [
                        *recovery_command(),
                        "serve",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--workers",
                        str(args.workers),
                    ],
                    service_env,
                    work / "service-workers.log",
                    port,
                    "/healthz",
                )
                stack.callback(many.stop)
                many.start(work)
                apps.append((f"service x{args.workers}", many))
            else:
                workers_note = (
                    f"--workers {args.workers}: not supported (`recovery serve --help` has no "
                    "--workers); measured one process only"
                )
                say(workers_note)
        say(
            f"service {service.url} (recovery serve, 1 process, no scheduler); "
            f"ceiling {ceiling.url} (Starlette + asyncpg, uvicorn, 1 process)"
        )

        write_helpers(engine, owners, verdict_templates(service, owners[0]))
        stages = sorted({SMALL, args.cases, args.queue_cases})
        seeder = CaseSeeder(engine, len(owners), horizon=stages[-1])
        datafile = work / "owners.txt"
        generator = pick_generator(args.generator, datafile, database.name)
        generator.servers = [server for _, server in apps]
        timings: dict[int, tuple[int, int, list[Timing]]] = {}
        runs: list[Run] = []
        ping: Run | None = None
        for size in stages:
            seeder.grow(size, say)
            if size in (SMALL, args.queue_cases):
                total, review = counts(engine)
                say(f"timing the review queue and a user's list at {total:,} cases")
                timings[size] = (
                    total,
                    review,
                    time_queries(service, reviewer, owners[1], samples=100, budget=20.0),
                )
            if size == args.cases:
                write_datafile(engine, owners, datafile, per_owner=4)
                first = datafile.read_text().split("\n", 1)[0].split()
                page_size = min(50, size // len(owners))
                for _, server in apps:
                    check_app(server, owners[0], first[4], page_size)
                say(f"\nload at {counts(engine)[0]:,} cases, generator: {generator.label}")
                ping = generator.run(ceiling, "ceiling", "ping", max(connections), args.duration)
                say(
                    f"  generator check, ceiling /ping (no database): {ping.rps:,.0f} req/s, "
                    f"generator CPU {ping.generator_cpu_us:.0f} us per request "
                    f"(~{1e6 / max(ping.generator_cpu_us, 1e-9):,.0f} req/s per core)"
                )
                runs = interleaved(
                    generator,
                    apps,
                    connections,
                    rounds=args.rounds,
                    seconds=args.duration,
                    warmup=args.warmup,
                )
                if args.profile:
                    profile(service, generator, args.duration, work)
                    profiles = Path.cwd() / ".benchmarks"
                    profiles.mkdir(exist_ok=True)
                    for f in work.glob("profile-*.txt"):
                        shutil.copy(f, profiles / f.name)
                    say(f"collapsed stacks copied to {profiles}")

        say("\n" + "=" * 100)
        say(
            f"API load: {args.cases:,} cases over {len(owners):,} owners, PostgreSQL, one process "
            f"each, {args.rounds} interleaved round(s) of {args.duration:g} s"
        )
        assert ping is not None
        say(
            f"load generator: {generator.label}; through it the ceiling's /ping (no database) "
            f"{ping.rps:,.0f} req/s, the generator at {ping.generator_cpu_us:.0f} us CPU per "
            "request"
        )
        figures: dict[str, Any] = {
            "command": sys.argv,
            "generator": generator.label,
            "generator_ping_rps": ping.rps,
            "generator_cpu_us_per_request": ping.generator_cpu_us,
        }
        figures["load"] = print_load(runs, [a for a, _ in apps], connections)
        if len(apps) > 2:
            figures["workers"] = print_workers(runs, apps[2][0], args.workers, max(connections))
        elif workers_note:
            say(f"\n{workers_note}")
            figures["workers"] = workers_note
        figures["queue"] = print_timings(timings)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
