"""The API benchmark's processes: servers in process groups of their own, and their CPU time."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


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


def spent(before: dict[int, float], after: dict[int, float]) -> float:
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
    # Throughput is measured here, not the rate limits: one key's thousands of requests a
    # second would be 429s otherwise.
    for limit in ("PER_KEY", "PER_CLIENT", "UNAUTHENTICATED", "FILING"):
        env[f"RECOVERY_RATE_LIMIT_{limit}"] = "0"
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
