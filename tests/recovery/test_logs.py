"""Logs: one JSON object per line outside development, carrying the fields given as extra."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from chains.devnet import DevnetCluster
from chains.devnet.node import free_port
from chains.evm import EvmAdapter
from recovery.logs import configure_logging
from recovery.settings import Settings


@pytest.fixture
def root_logging() -> Iterator[None]:
    """Put the root logger back as pytest had it."""
    loggers = [logging.getLogger(name) for name in ("", "httpx", "httpcore")]
    handlers, levels = list(loggers[0].handlers), [logger.level for logger in loggers]
    yield
    loggers[0].handlers[:] = handlers
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


def test_json_is_the_default_outside_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECOVERY_LOG_FORMAT", raising=False)
    assert Settings(_env_file=None).logs_as == "text"
    assert Settings(_env_file=None, environment="production").logs_as == "json"
    monkeypatch.setenv("RECOVERY_LOG_FORMAT", "text")
    assert Settings(_env_file=None, environment="production").logs_as == "text"
    monkeypatch.setenv("RECOVERY_LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="log_format"):
        Settings(_env_file=None)


def test_json_logs_are_one_object_per_line_with_the_extra_fields(
    root_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("json")
    logger = logging.getLogger("recovery.test")
    logger.info("case %s moved", "RC-000001", extra={"case": "RC-000001", "to_status": "paid"})
    try:
        raise RuntimeError("line one\nline two")
    except RuntimeError:
        logger.exception("it failed")

    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    moved, failed = (json.loads(line) for line in lines)
    assert moved["message"] == "case RC-000001 moved"
    assert (moved["case"], moved["to_status"], moved["level"]) == ("RC-000001", "paid", "INFO")
    assert moved["logger"] == "recovery.test"
    assert moved["time"].endswith("+00:00")
    assert "line two" in failed["exception"]


@pytest.mark.anvil
def test_an_endpoint_failover_is_logged_with_network_and_endpoints(
    root_logging: None, capsys: pytest.CaptureFixture[str], devnet: DevnetCluster
) -> None:
    configure_logging("json")
    closed = f"http://127.0.0.1:{free_port()}"
    live = devnet.node("ethereum").url
    with EvmAdapter("ethereum", [closed, live], retries=0) as adapter:
        adapter.chain_id()

    entries = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    by_event = {e.get("event"): e for e in entries}
    failover = by_event["rpc_failover"]
    assert (failover["network"], failover["from_endpoint"], failover["to_endpoint"]) == (
        "ethereum",
        closed,
        live,
    )
    assert by_event["rpc_endpoint_failed"]["endpoint"] == closed
    assert not [e for e in entries if e["logger"].startswith("httpx")], "no line per request"
    assert "ConnectError" in by_event["rpc_endpoint_failed"]["error"]
