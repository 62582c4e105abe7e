"""Load runs of the API benchmark: wrk with api_load.lua, or api_loadgen.py without wrk."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.api_processes import ROOT, Server, backends_cpu, child_env, spent
from benchmarks.api_seed import run_nonce

LUA = Path(__file__).with_name("api_load.lua")
# The endpoints measured, and the script's mode for each.
ENDPOINTS = (
    ("GET /v1/appeals/{id}", "get"),
    ("GET /v1/appeals?limit=50", "list"),
    ("POST /v1/appeals", "post"),
)


@dataclass
class Run:
    """One load run of one app on one endpoint."""

    app: str
    mode: str
    connections: int
    requests: int
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
            if sum(spent(b, a) for b, a in zip(before, after, strict=True)) < 0.25 * 0.1:
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
        app_spent = spent(app_before, server.cpu())
        db_spent = spent(db_before, backends_cpu(self.database))
        lines = [line for line in output.splitlines() if line.startswith("{")]
        if process.returncode != 0 or not lines:
            raise SystemExit(f"the load generator failed on {app} {mode}:\n{output}")
        found = json.loads(lines[-1])
        requests = max(int(found["requests"]), 1)
        return Run(
            app=app,
            mode=mode,
            connections=connections,
            requests=int(found["requests"]),
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
