"""Watched cases that only gain confirmations are written together, never over a user's change."""

from __future__ import annotations

from datetime import timedelta

from chains.devnet import DevnetCluster
from recovery.domain.states import CaseStatus
from recovery.verification.claims import WatchProgress, claim_due, record_progress
from tests.conftest import Clock
from tests.recovery.verification.builders import DEPOSIT, Flow


def test_a_case_cancelled_while_its_confirmations_were_counted_stays_cancelled(
    flow: Flow, devnet: DevnetCluster, clock: Clock
) -> None:
    bsc = devnet.chain("bsc")
    case = flow.file(tx_hash=bsc.send(bsc.accounts[5], to=DEPOSIT, value=10**18))
    flow.checker.verify_cycle()
    clock.advance(seconds=1)
    with flow.context.database.unit_of_work() as session:
        assert claim_due(
            session,
            statuses=[CaseStatus.CONFIRMING],
            owner="watcher",
            now=clock(),
            lease=timedelta(seconds=60),
            limit=10,
        ) == [case["id"]]
    claimed = flow.stored(case)

    response = flow.client.post(f"/v1/appeals/{case['id']}/cancel", headers=flow.headers)
    assert response.status_code == 200, response.text

    with flow.context.database.unit_of_work() as session:
        lost = record_progress(
            session,
            [
                WatchProgress(
                    claimed.id,
                    claimed.version,
                    {**(claimed.facts or {}), "confirmations": 1},
                    "1 of 2 confirmations on bsc",
                )
            ],
            owner="watcher",
            next_check_at=clock() + timedelta(seconds=1),
            retry_at=clock(),
        )
    assert lost == 1
    after = flow.read(case)
    assert after["status"] == "cancelled"
    assert after["check_note"] != "1 of 2 confirmations on bsc"
    assert [e["to_status"] for e in flow.events(case)][-1] == "cancelled"
    with flow.context.database.unit_of_work() as session:
        # Released: nobody holds a lease on it any more.
        assert claim_due(
            session,
            statuses=[CaseStatus.CANCELLED],
            owner="other",
            now=clock(),
            lease=timedelta(seconds=1),
            limit=10,
        ) == [case["id"]]
