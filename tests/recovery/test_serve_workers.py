"""`recovery serve --workers N`: N API processes on one PostgreSQL, the jobs run once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chains.devnet.node import free_port
from tests.conftest import postgres_schema
from tests.recovery.test_cli import RECOVERY, run_with


@pytest.fixture
def schema_url() -> Iterator[str]:
    """A PostgreSQL schema of its own, as a database URL."""
    yield from postgres_schema("recovery_serve")


@pytest.mark.postgres
def test_two_api_processes_serve_one_database_and_the_jobs_start_once(
    tmp_path: Path, schema_url: str
) -> None:
    env = {"RECOVERY_DATABASE_URL": schema_url, "RECOVERY_LOG_FORMAT": "text"}
    assert run_with(tmp_path, env, "migrate").returncode == 0
    made = run_with(tmp_path, env, "keys", "create", "--role", "admin", "--subject", "ops")
    assert made.returncode == 0, made.stderr
    key = next(w for w in made.stdout.split() if w.startswith("rk_"))
    port = free_port()
    full = {**{k: v for k, v in os.environ.items() if not k.startswith("RECOVERY_")}, **env}
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(RECOVERY), "serve", "--workers", "2", "--port", str(port)],
            cwd=tmp_path,
            env=full,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while log_path.read_text().count("Application startup complete") < 2:
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        headers = {"Authorization": f"Bearer {key}"}
        registered = httpx.post(
            f"{base}/v1/deposit-addresses",
            json={
                "address": "0x1111111111111111111111111111111111111111",
                "owner": "alice",
                "networks": ["ethereum"],
            },
            headers=headers,
            timeout=10,
        )
        assert registered.status_code == 201, registered.text
        # Every request on a new connection: both processes answer, from one database.
        for _ in range(20):
            read = httpx.get(f"{base}/v1/admin/keys", headers=headers, timeout=10)
            assert read.status_code == 200, read.text
        served = log_path.read_text()
        started = [line for line in served.splitlines() if "Started server process" in line]
        assert len({line.split("[")[-1] for line in started}) == 2, served
        assert served.count("jobs in this process") == 1, served
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert process.returncode == 0, log_path.read_text()


def test_workers_need_postgresql(tmp_path: Path) -> None:
    done = run_with(tmp_path, {}, "serve", "--workers", "2", "--no-scheduler")
    assert done.returncode == 2
    assert "--workers needs PostgreSQL" in done.stderr
