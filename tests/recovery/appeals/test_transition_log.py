"""Every committed state change of a case is logged once, with its reference; rolled-back
changes are not."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from recovery.appeals.repository import CaseRepository
from recovery.db.engine import Database
from recovery.domain.errors import StaleCase
from recovery.domain.states import CaseStatus
from tests.recovery.domain.test_states import make_case
from tests.recovery.verification.builders import Flow

AT = datetime(2026, 11, 23, tzinfo=UTC)


def transitions(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str | None, str]]:
    return [
        (r.case, r.from_status, r.to_status)  # type: ignore[attr-defined]
        for r in caplog.records
        if getattr(r, "event", None) == "case_transition"
    ]


@pytest.mark.anvil
def test_filing_and_verifying_log_each_transition_with_the_case_reference(
    flow: Flow, caplog: pytest.LogCaptureFixture
) -> None:
    bsc_tx = "0x" + "00" * 32  # never mined: the case waits in verifying
    with caplog.at_level(logging.INFO, logger="recovery.cases"):
        case = flow.file(tx_hash=bsc_tx)
        flow.checker.verify_cycle()

    reference = flow.read(case)["reference"]
    assert transitions(caplog) == [
        (reference, None, "submitted"),
        (reference, "submitted", "verifying"),
    ]
    record = next(r for r in caplog.records if getattr(r, "to_status", None) == "verifying")
    assert record.actor == "system:verifier"  # type: ignore[attr-defined]
    assert record.network == "bsc"  # type: ignore[attr-defined]
    assert reference in record.getMessage()


def test_a_change_lost_to_another_writer_is_not_logged(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    with database.unit_of_work() as session:
        case = make_case(CaseStatus.SUBMITTED, id="c-log", number=None)
        case.open(actor="user:alice", at=AT)
        CaseRepository(session).add(case)
    with database.unit_of_work() as session:
        first = CaseRepository(session).get("c-log")
    assert first is not None
    second = make_case(CaseStatus.SUBMITTED, id="c-log", number=first.number, version=0)
    with database.unit_of_work() as session:
        first.transition(CaseStatus.VERIFYING, actor="system:verifier", at=AT)
        CaseRepository(session).save(first)

    with caplog.at_level(logging.INFO, logger="recovery.cases"):
        second.transition(CaseStatus.CANCELLED, actor="user:alice", at=AT)
        with database.unit_of_work() as session:
            repository = CaseRepository(session)
            with pytest.raises(StaleCase):
                repository.save(second)
        with pytest.raises(RuntimeError):
            _save_then_fail(database, "c-log")
        with database.unit_of_work() as session:
            repository = CaseRepository(session)
            kept = repository.get("c-log")
            assert kept is not None
            kept.transition(CaseStatus.CONFIRMING, actor="system:verifier", at=AT)
            with session.begin_nested():
                repository.save(kept)  # kept: its savepoint is released
            again = repository.get("c-log")
            assert again is not None
            again.transition(CaseStatus.CANCELLED, actor="user:alice", at=AT)
            savepoint = session.begin_nested()
            repository.save(again)
            savepoint.rollback()  # given up: never happened

    reference = first.reference
    with database.unit_of_work() as session:
        events = CaseRepository(session).events("c-log")
    assert [e.to_status for e in events][-1] == CaseStatus.CONFIRMING
    assert transitions(caplog) == [(reference, "verifying", "confirming")]


def _save_then_fail(database: Database, case_id: str) -> None:
    """A unit of work that writes a transition and then fails: it is rolled back."""
    with database.unit_of_work() as session:
        repository = CaseRepository(session)
        case = repository.get(case_id)
        assert case is not None
        case.transition(CaseStatus.CANCELLED, actor="user:alice", at=AT)
        repository.save(case)
        raise RuntimeError("the request failed after the write")
