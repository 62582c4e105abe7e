"""`recovery policy check`: a summary on success, one line and exit 1 on a bad file."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from policies import Policy
from policies.cli import policy_app

runner = CliRunner()


def test_check_summarizes_the_shipped_policy(policy: Policy) -> None:
    result = runner.invoke(policy_app, ["check"])
    assert result.exit_code == 0, result.output
    assert f"version: {policy.version}" in result.output
    assert f"sha256: {policy.content_hash}" in result.output
    assert "wrong_network: direct 18, conditional 19, unsupported 8" in result.output
    assert "wrong_network/direct:" in result.output


def test_check_with_the_devnet_overlay_lists_devnets() -> None:
    result = runner.invoke(policy_app, ["check", "--overlay", "devnet"])
    assert result.exit_code == 0, result.output
    assert "devnets: bsc, ethereum" in result.output
    assert "+devnet" in result.output


def test_check_refuses_a_bad_file_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: '1'\nquote_currency: usd\n")
    result = runner.invoke(policy_app, ["check", str(bad)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{bad}: ")
    assert "quote_currency" in lines[0]
