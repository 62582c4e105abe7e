"""The `recovery` command, run as a newcomer would, in a directory of its own."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from chains.devnet.node import free_port
from policies.loader import DATA_DIR

RECOVERY = Path(sys.executable).with_name("recovery")


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_with(tmp_path, {}, *args)


def run_with(
    tmp_path: Path, settings: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """The command with no RECOVERY_* variables of the caller's, only `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECOVERY_")}
    env.update(settings)
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


OWN_MNEMONIC = "immense venue example moral sausage virtual sea crush proof fury long flower"
SPELLED_ANVIL = " Test test  test test test test test test test\ttest test junk\n"


def _short_refusal(done: subprocess.CompletedProcess[str], *hidden: str) -> str:
    """The refusal's text, after checking it is one exit 2 with no traceback or secret."""
    assert done.returncode == 2, (done.stdout, done.stderr)
    output = done.stdout + done.stderr
    assert "Traceback" not in output
    assert "input_value" not in output
    for word in hidden:
        assert word.lower() not in output.lower(), output
    return done.stderr


@pytest.mark.parametrize("command", ["serve", "worker", "migrate"])
def test_a_development_mnemonic_in_production_is_one_short_line_without_its_words(
    tmp_path: Path, command: str
) -> None:
    env = {"RECOVERY_ENVIRONMENT": "production", "RECOVERY_MNEMONIC": SPELLED_ANVIL}
    done = run_with(tmp_path, env, command)

    error = _short_refusal(done, "junk", "test test")
    assert error.strip() == (
        "error: bad settings: RECOVERY_MNEMONIC: is a public development mnemonic (anvil, "
        "hardhat, truffle or ganache, compared ignoring case and spacing); outside "
        "development set one of your own"
    )


def test_a_rule_over_several_settings_names_them_and_never_the_mnemonic(tmp_path: Path) -> None:
    env = {
        "RECOVERY_MNEMONIC": OWN_MNEMONIC,
        "RECOVERY_RPC_REST_SECONDS": "10",
        "RECOVERY_RPC_MAX_REST_SECONDS": "5",
    }
    done = run_with(tmp_path, env, "worker")

    error = _short_refusal(done, *OWN_MNEMONIC.split())
    assert "RECOVERY_RPC_MAX_REST_SECONDS must be at least RECOVERY_RPC_REST_SECONDS" in error


def test_the_devnet_overlay_by_path_is_refused_in_production(tmp_path: Path) -> None:
    env = {
        "RECOVERY_ENVIRONMENT": "production",
        "RECOVERY_POLICY_OVERLAYS": str(DATA_DIR / "devnet.yaml"),
    }
    done = run_with(tmp_path, env, "serve")

    error = _short_refusal(done)
    assert "RECOVERY_POLICY_OVERLAYS: overlay 1 marks bsc, ethereum as devnet" in error


def test_serve_devnet_is_refused_in_production(tmp_path: Path) -> None:
    # With a metrics token, so that open metrics are not what is refused.
    env = {"RECOVERY_ENVIRONMENT": "production", "RECOVERY_METRICS_TOKEN": "m" * 32}
    done = run_with(tmp_path, env, "serve", "--devnet")

    error = _short_refusal(done)
    assert "--devnet is for RECOVERY_ENVIRONMENT=development only" in error


def test_a_signer_that_cannot_start_is_one_short_line_without_the_words(tmp_path: Path) -> None:
    broken = OWN_MNEMONIC.replace("flower", "flowers")
    env = {"RECOVERY_MNEMONIC": broken, "RECOVERY_RPC__ETHEREUM": "http://127.0.0.1:1"}
    done = run_with(tmp_path, env, "worker")

    error = _short_refusal(done, *broken.split())
    # The last line; the lines above it are the migration's log.
    assert error.strip().splitlines()[-1] == (
        "error: the configured mnemonic (12 words) is not a valid BIP-39 phrase"
    )


def test_serve_outside_development_refuses_open_metrics(tmp_path: Path) -> None:
    env = {"RECOVERY_ENVIRONMENT": "production"}
    done = run_with(tmp_path, env, "serve", "--no-scheduler")
    assert done.returncode == 2
    assert "RECOVERY_METRICS_TOKEN" in done.stderr
    assert "RECOVERY_METRICS_PORT" in done.stderr
    assert not (tmp_path / "recovery.db").exists(), "refused before touching anything"


def test_serve_answers_scrapes_on_its_metrics_port_and_the_api_says_so(tmp_path: Path) -> None:
    api, metrics = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RECOVERY_")},
        "RECOVERY_ENVIRONMENT": "production",
        "RECOVERY_METRICS_PORT": str(metrics),
    }
    with (tmp_path / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [str(RECOVERY), "serve", "--no-scheduler", "--port", str(api)],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                moved = httpx.get(f"http://127.0.0.1:{api}/metrics", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.1)
        assert moved.status_code == 404
        assert f"http://127.0.0.1:{metrics}/metrics" in moved.json()["detail"]
        scraped = httpx.get(f"http://127.0.0.1:{metrics}/metrics", timeout=5)
        assert scraped.status_code == 200
        assert 'recovery_cases{state="submitted"} 0.0' in scraped.text
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
