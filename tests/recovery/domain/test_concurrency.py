"""Optimistic locking: two concurrent transitions of one case, exactly one wins."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from recovery.appeals.repository import CaseRepository
from recovery.db.engine import Database
from recovery.domain.errors import StaleCase
from recovery.domain.states import CaseStatus
from tests.recovery.domain.test_states import make_case

AT = datetime(2026, 11, 23, tzinfo=UTC)


def test_two_connections_transition_one_case_and_one_wins(database: Database) -> None:
    with database.unit_of_work() as session:
        case = make_case(CaseStatus.SUBMITTED, id="c-race", number=None)
        case.open(actor="user:alice", at=AT)
        CaseRepository(session).add(case)

    both_read = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def move(name: str, target: CaseStatus) -> None:
        try:
            with database.unit_of_work() as session:
                repository = CaseRepository(session)
                mine = repository.get("c-race")
                assert mine is not None
                both_read.wait(timeout=10)
                mine.transition(target, actor=name, at=AT)
                repository.save(mine)
            outcomes[name] = "won"
        except StaleCase:
            outcomes[name] = "stale"

    threads = [
        threading.Thread(target=move, args=("system", CaseStatus.VERIFYING)),
        threading.Thread(target=move, args=("user:alice", CaseStatus.CANCELLED)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes.values()) == ["stale", "won"]
    winner = next(name for name, outcome in outcomes.items() if outcome == "won")
    with database.unit_of_work() as session:
        repository = CaseRepository(session)
        stored = repository.get("c-race")
        events = repository.events("c-race")
    assert stored is not None
    expected = CaseStatus.VERIFYING if winner == "system" else CaseStatus.CANCELLED
    assert stored.status == expected
    assert stored.version == 1
    assert [(e.seq, e.to_status) for e in events] == [(1, CaseStatus.SUBMITTED), (2, expected)]


@pytest.mark.parametrize("target", [CaseStatus.VERIFYING])
def test_a_stale_save_writes_nothing(database: Database, target: CaseStatus) -> None:
    with database.unit_of_work() as session:
        case = make_case(CaseStatus.SUBMITTED, id="c-stale", number=None)
        CaseRepository(session).add(case)
    with database.unit_of_work() as session:
        old = CaseRepository(session).get("c-stale")
    with database.unit_of_work() as session:
        fresh = CaseRepository(session).get("c-stale")
        assert fresh is not None
        fresh.transition(CaseStatus.CANCELLED, actor="user:alice", at=AT)
        CaseRepository(session).save(fresh)
    assert old is not None
    old.transition(target, actor="system", at=AT)
    with pytest.raises(StaleCase, match="version 0 is stale"), database.unit_of_work() as session:
        CaseRepository(session).save(old)
    with database.unit_of_work() as session:
        events = CaseRepository(session).events("c-stale")
    assert [e.to_status for e in events] == [CaseStatus.CANCELLED]
