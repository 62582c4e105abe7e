"""Migration 0009 upgrades in place: existing cases get their value column for the queue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import JSON, Engine, column, table, text

from recovery.db.migrate import upgrade
from recovery.db.types import UTCDateTime
from tests.recovery.db.conftest import engine_at

AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def at_0008(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    yield from engine_at(request.param, tmp_path, "0008")


def _case(number: int, verdict: dict[str, object] | None) -> dict[str, object]:
    return {
        "id": f"case-{number}",
        "claimant": "alice",
        "case_type": "wrong_network",
        "network": "bsc",
        "tx_hash": "0x" + f"{number:064x}",
        "token": "native",
        "deposit_address": "0x1111111111111111111111111111111111111111",
        "refund_address": "0x2222222222222222222222222222222222222222",
        "status": "in_review",
        "version": 1,
        "last_seq": 1,
        "verdict": verdict,
        "created_at": AT,
        "updated_at": AT,
    }


def test_existing_verdict_values_become_the_queue_column(at_0008: Engine) -> None:
    old = [
        _case(1, {"value": "2500.123456789", "eligible": True}),
        _case(2, {"value": None}),
        _case(3, None),
        _case(4, {"value": "0.0000009"}),
    ]
    types = {"verdict": JSON(), "created_at": UTCDateTime(), "updated_at": UTCDateTime()}
    cases = table("cases", *(column(name, types.get(name)) for name in old[0]))
    with at_0008.begin() as connection:
        connection.execute(cases.insert(), old)
    upgrade(at_0008)
    with at_0008.connect() as connection:
        values = connection.execute(text("SELECT id, value_micros FROM cases ORDER BY id")).all()
        indexes = {
            row[0]
            for row in connection.execute(
                text(
                    "SELECT indexname FROM pg_indexes WHERE tablename = 'cases'"
                    if at_0008.dialect.name == "postgresql"
                    else "SELECT name FROM sqlite_master WHERE type = 'index'"
                )
            )
        }
    assert [tuple(v) for v in values] == [
        ("case-1", 2_500_123_456),
        ("case-2", None),
        ("case-3", None),
        ("case-4", 0),
    ]
    assert {"ix_cases_queue", "ix_cases_queue_network"} <= indexes
