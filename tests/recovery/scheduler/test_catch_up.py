"""Nothing is missed because no process ran, or because the one that held a case died."""

from __future__ import annotations

from datetime import timedelta

from chains.devnet import DevnetCluster
from chains.evm import EvmAdapter
from recovery.api.context import AppContext
from recovery.domain.states import CaseStatus
from recovery.verification.claims import claim_due
from recovery.verification.service import Checker
from tests.conftest import Clock
from tests.recovery.verification.builders import DEPOSIT, Flow


def test_a_claim_filed_while_no_worker_ran_is_verified_by_the_next_one(
    flow: Flow,
    devnet: DevnetCluster,
    clock: Clock,
    context: AppContext,
    adapters: dict[str, EvmAdapter],
) -> None:
    bsc = devnet.chain("bsc")
    case = flow.file(tx_hash=bsc.send(bsc.accounts[5], to=DEPOSIT, value=10**18))
    clock.advance(hours=2)  # the service was down for two hours

    restarted = Checker(context.database, context.policy, adapters, clock)
    report = restarted.verify_cycle()

    assert report.claimed == 1
    assert flow.read(case)["status"] == "confirming"


def test_a_case_held_by_a_crashed_process_is_taken_over_once_its_lease_lapses(
    flow: Flow, devnet: DevnetCluster, clock: Clock, context: AppContext
) -> None:
    bsc = devnet.chain("bsc")
    case = flow.file(tx_hash=bsc.send(bsc.accounts[5], to=DEPOSIT, value=10**18))
    with context.database.unit_of_work() as session:  # claimed, then the process died
        held = claim_due(
            session,
            statuses=[CaseStatus.SUBMITTED],
            owner="crashed-host:4242:dead",
            now=clock(),
            lease=timedelta(seconds=60),
            limit=10,
        )
    assert held == [case["id"]]

    assert flow.checker.verify_cycle().claimed == 0, "a live lease is respected"
    assert flow.read(case)["status"] == "submitted"
    clock.advance(seconds=61)
    assert flow.checker.verify_cycle().claimed == 1
    assert flow.read(case)["status"] == "confirming"
    assert [e["to_status"] for e in flow.events(case)] == ["submitted", "verifying", "confirming"]
