"""The `recovery` command, run as a newcomer would, in a directory of its own."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

RECOVERY = Path(sys.executable).with_name("recovery")


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECOVERY_")}
    return subprocess.run(
        [str(RECOVERY), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )


def test_keys_are_printed_once_and_stored_hashed(tmp_path: Path) -> None:
    done = run(tmp_path, "keys", "create", "--role", "reviewer", "--subject", "rita")
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    assert key.startswith("rk_")
    rows = sqlite3.connect(tmp_path / "recovery.db").execute(
        "SELECT role, subject, key_hash FROM api_keys"
    )
    ((role, subject, key_hash),) = list(rows)
    assert (role, subject) == ("reviewer", "rita")
    assert key not in key_hash
    assert len(key_hash) == 64


def test_an_unknown_role_is_refused_with_the_choices(tmp_path: Path) -> None:
    done = run(tmp_path, "keys", "create", "--role", "wizard", "--subject", "x")
    assert done.returncode == 2
    assert "user" in done.stderr
    assert "reviewer" in done.stderr


def test_deposit_addresses_are_registered_from_the_command_line(tmp_path: Path) -> None:
    address = "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1"
    ok = run(
        tmp_path,
        "deposit-addresses",
        "register",
        address.lower(),
        "--owner",
        "alice",
        "--network",
        "ethereum",
        "--hd-index",
        "3",
    )
    assert ok.returncode == 0, ok.stderr
    assert f"registered {address} for alice on ethereum" in ok.stdout
    bad = run(
        tmp_path,
        "deposit-addresses",
        "register",
        "0xnope",
        "--owner",
        "alice",
        "--network",
        "ethereum",
    )
    assert bad.returncode == 1
    assert "is not an EVM address" in bad.stderr


def test_policy_check_passes_on_the_shipped_policy(tmp_path: Path) -> None:
    done = run(tmp_path, "policy", "check")
    assert done.returncode == 0, done.stderr
    assert "direct" in done.stdout
    assert "conditional" in done.stdout


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    done = run(tmp_path, "migrate")
    assert done.returncode == 0, done.stderr
    tables = {
        name
        for (name,) in sqlite3.connect(tmp_path / "recovery.db").execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        )
    }
    assert {"cases", "case_events", "api_keys", "payouts", "quotes"} <= tables
