"""One local anvil node in a child process, stopped with everything it spawned."""

from __future__ import annotations

import atexit
import contextlib
import os
import platform
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import httpx

from chains.errors import ChainError

REPO_ROOT = Path(__file__).resolve().parents[2]
ANVIL_ENV = "RECOVERY_ANVIL_BIN"

_PLATFORMS = {
    ("Linux", "x86_64"): "linux-amd64",
    ("Linux", "aarch64"): "linux-arm64",
    ("Darwin", "x86_64"): "darwin-amd64",
    ("Darwin", "arm64"): "darwin-arm64",
}


class AnvilNotFound(ChainError):
    """Raised when the anvil binary is not where npm installs it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"anvil binary not found at {path}; run `npm ci` in {REPO_ROOT} "
            f"or point {ANVIL_ENV} at an anvil binary"
        )


class AnvilStartFailed(ChainError):
    """Raised when an anvil process exits or stays silent instead of serving JSON-RPC."""

    def __init__(self, network: str, detail: str) -> None:
        self.network = network
        super().__init__(f"anvil for {network} did not start: {detail}")


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM anvil when the process that started it dies.

    atexit and `finally` do not run when the parent is killed by a signal; this does.
    """
    if platform.system() != "Linux":
        return
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def anvil_binary() -> Path:
    """The anvil binary installed by `npm ci` (`@foundry-rs/anvil`), or `$RECOVERY_ANVIL_BIN`."""
    override = os.environ.get(ANVIL_ENV)
    if override:
        path = Path(override)
    else:
        arch = _PLATFORMS.get((platform.system(), platform.machine()), "linux-amd64")
        path = REPO_ROOT / "node_modules" / "@foundry-rs" / f"anvil-{arch}" / "bin" / "anvil"
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise AnvilNotFound(path)
    return path


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AnvilNode:
    """An anvil node on a free loopback port serving `chain_id` for `network`.

    Instant mining by default (each transaction mined when sent); `block_time` switches to
    interval mining. Use as a context manager, or call `start()` and `stop()`; any node
    still running when the interpreter exits is stopped by an atexit hook.
    """

    def __init__(
        self,
        network: str,
        chain_id: int,
        *,
        port: int | None = None,
        block_time: float | None = None,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 15.0,
    ) -> None:
        self.network = network
        self.chain_id = chain_id
        self.block_time = block_time
        self.extra_args = tuple(extra_args)
        self.startup_timeout = startup_timeout
        self._requested_port = port
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: tempfile._TemporaryFileWrapper[bytes] | None = None

    @property
    def url(self) -> str:
        """HTTP JSON-RPC endpoint of the running node."""
        if self.port is None:
            raise ChainError(f"anvil for {self.network} is not running")
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """Process id of the anvil process, None when stopped."""
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        """Whether the anvil process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> AnvilNode:
        """Start anvil and return once it answers `web3_clientVersion`."""
        for attempt in range(3):
            self.spawn()
            try:
                self.wait_ready()
            except AnvilStartFailed as exc:
                # Another process may have taken the free port between probe and bind.
                port_taken = "address already in use" in str(exc).lower()
                if self._requested_port is None and port_taken and attempt < 2:
                    continue
                raise
            return self
        raise AssertionError("unreachable")

    def spawn(self) -> None:
        """Start the anvil process without waiting for it (see `wait_ready`)."""
        if self.running:
            return
        binary = anvil_binary()
        self.port = self._requested_port or free_port()
        command = [
            str(binary),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--chain-id",
            str(self.chain_id),
            "--quiet",
        ]
        if self.block_time is not None:
            command += ["--block-time", str(self.block_time)]
        command += self.extra_args
        # Lives as long as the process: stop() closes (and so deletes) it.
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix=f"anvil-{self.network}-", suffix=".log"
        )
        # A session of its own, so stop() can signal anvil and anything it spawned at once.
        self._process = subprocess.Popen(  # noqa: S603 (fixed binary, no shell)
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        with _lock:
            _processes[self._process.pid] = self._process

    def wait_ready(self) -> None:
        """Block until the node answers JSON-RPC; stop it and raise if it never does."""
        deadline = time.monotonic() + self.startup_timeout
        payload = {"jsonrpc": "2.0", "id": 1, "method": "web3_clientVersion", "params": []}
        with httpx.Client(timeout=1.0) as http:
            while time.monotonic() < deadline:
                if self._process is None or self._process.poll() is not None:
                    detail = f"exited with {self._exit_code()}: {self._log_tail()}"
                    self.stop()
                    raise AnvilStartFailed(self.network, detail)
                try:
                    if http.post(self.url, json=payload).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.02)
        self.stop()
        raise AnvilStartFailed(
            self.network, f"no answer on {self.url} within {self.startup_timeout}s"
        )

    def stop(self) -> None:
        """Stop anvil (SIGTERM, then SIGKILL) with its whole process group."""
        process, self._process = self._process, None
        if process is not None:
            _terminate(process)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> AnvilNode:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self.running else "stopped"
        return f"AnvilNode({self.network!r}, chain_id={self.chain_id}, {where})"

    def _exit_code(self) -> int | None:
        return self._process.poll() if self._process else None

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        text = Path(self._log.name).read_bytes()[-2000:].decode(errors="replace")
        return text.strip() or "(no output)"


# Every anvil process started here and not yet stopped, held strongly so that the atexit
# hook still finds a process whose AnvilNode was dropped without stop().
_processes: dict[int, subprocess.Popen[bytes]] = {}
_lock = threading.Lock()


def _terminate(process: subprocess.Popen[bytes]) -> None:
    with _lock:
        _processes.pop(process.pid, None)
    if process.poll() is not None:
        return
    _signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout=3)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        process.wait(timeout=3)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


@atexit.register
def _stop_all() -> None:
    """Safety net: no anvil outlives the interpreter that started it."""
    with _lock:
        processes = list(_processes.values())
    for process in processes:
        _terminate(process)
