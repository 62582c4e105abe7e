"""Migration 0005 upgrades a database in place: existing cases keep the transfers they held."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, column, table, text
from sqlalchemy.exc import IntegrityError

from recovery.appeals.repository import CaseRepository
from recovery.db.engine import Database
from recovery.db.migrate import upgrade
from recovery.db.types import UTCDateTime
from tests.recovery.db.conftest import engine_at

AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TX = "0x" + "ab" * 32
TOKEN = "0x" + "12" * 20
DEPOSIT = "0x1111111111111111111111111111111111111111"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def at_0004(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database migrated only to 0004, as a deployed service has it before this release."""
    yield from engine_at(request.param, tmp_path, "0004")


def _old_case(number: int, *, token: str, status: str, log_index: int | None) -> dict[str, object]:
    return {
        "id": f"case-{number}",
        "claimant": "alice",
        "case_type": "wrong_network",
        "network": "bsc",
        "opened_for": "ethereum",
        "tx_hash": TX if token != "native" else "0x" + f"{number:064x}",
        "token": token,
        "deposit_address": DEPOSIT,
        "refund_address": DEPOSIT,
        "status": status,
        "version": 1,
        "last_seq": 1,
        "log_index": log_index,
        "created_at": AT,
        "updated_at": AT,
    }


def test_existing_cases_carry_their_log_index_over_into_claims(at_0004: Engine) -> None:
    old = [
        _old_case(1, token=TOKEN, status="quoted", log_index=5),
        _old_case(2, token=TOKEN, status="rejected", log_index=6),
        _old_case(3, token="native", status="submitted", log_index=None),
        _old_case(4, token="native", status="confirming", log_index=-1),
    ]
    cases = table(
        "cases",
        *(column(name, UTCDateTime() if name.endswith("_at") else None) for name in old[0]),
    )
    with at_0004.begin() as connection:
        connection.execute(cases.insert(), old)
    upgrade(at_0004)

    with at_0004.connect() as connection:
        claims = connection.execute(
            text(
                "SELECT case_id, log_index, released_at IS NULL FROM claimed_transfers "
                "ORDER BY case_id"
            )
        ).all()
    assert [tuple(c) for c in claims] == [
        ("case-1", 5, True),
        ("case-2", 6, False),
        ("case-3", -1, True),
        ("case-4", -1, True),
    ]
    database = Database(at_0004)
    with database.unit_of_work() as session:
        repository = CaseRepository(session)
        quoted = repository.get("case-1")
        native = repository.get("case-3")
    assert quoted is not None
    assert quoted.log_indexes == (5,)
    assert quoted.named_log_indexes is None
    assert native is not None
    assert native.held_transfers() == (-1,)
    # The unique index of live claims is in force on the upgraded database.
    with pytest.raises(IntegrityError), at_0004.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO claimed_transfers (case_id, network, tx_hash, deposit_address, "
                "log_index, claimed_at) VALUES ('case-2', 'bsc', :tx, :deposit, 5, :at)"
            ),
            {"tx": TX, "deposit": DEPOSIT, "at": AT},
        )
