"""A transfer is a log: several Transfer logs of one token to one address in one transaction,
each recoverable exactly once, by a claim on all of them or on named log indexes."""

from __future__ import annotations

import uuid
from dataclasses import replace

from sqlalchemy import select

from chains.devnet import DevnetChain, DevnetCluster
from recovery.appeals.repository import CaseRepository
from recovery.db.tables import ClaimedTransferRow
from recovery.domain.case import Case
from recovery.domain.states import CaseStatus
from tests.recovery.verification.builders import DEPOSIT, STRANGER, Flow


def batch(chain: DevnetChain) -> tuple[str, str, list[int]]:
    """A token and one transaction paying STRANGER 1,000 and DEPOSIT 7,000 then 9,000."""
    token = chain.deploy_token(symbol="MLT", name="Multi", decimals=6)
    tx = chain.batch_transfer(
        token, chain.accounts[7], [(STRANGER, 1_000), (DEPOSIT, 7_000), (DEPOSIT, 9_000)]
    )
    logs = [log for log in chain.receipt(tx)["logs"] if len(log["topics"]) == 3]
    return token, tx, [int(log["logIndex"], 16) for log in logs]


def live_claims(flow: Flow, case: dict[str, object]) -> list[int]:
    with flow.context.database.unit_of_work() as session:
        return list(
            session.scalars(
                select(ClaimedTransferRow.log_index)
                .where(
                    ClaimedTransferRow.case_id == case["id"],
                    ClaimedTransferRow.released_at.is_(None),
                )
                .order_by(ClaimedTransferRow.log_index)
            )
        )


def post(flow: Flow, **overrides: object) -> tuple[int, dict[str, object]]:
    body: dict[str, object] = {
        "case_type": "wrong_network",
        "network": "bsc",
        "opened_for": "ethereum",
        "deposit_address": DEPOSIT,
        "refund_address": STRANGER,
    }
    body.update(overrides)
    response = flow.client.post("/v1/appeals", json=body, headers=flow.headers)
    return response.status_code, response.json()


def test_each_named_log_is_its_own_case_and_none_is_claimed_twice(
    flow: Flow, devnet: DevnetCluster
) -> None:
    token, tx, (_, first, second) = batch(devnet.chain("bsc"))
    seven = flow.file(tx_hash=tx, token=token, log_indexes=[first])
    nine = flow.file(tx_hash=tx, token=token, log_indexes=[second], claimed_amount="9000")
    assert seven["log_indexes"] == [first]

    status, again = post(flow, tx_hash=tx, token=token, log_indexes=[second, first])
    assert status == 409
    assert again["reason_code"] == "duplicate_claim"
    assert f"log {first}" in again["detail"] or f"log {second}" in again["detail"]
    status, whole = post(flow, tx_hash=tx, token=token)
    assert status == 409, "a claim on all of them overlaps both named claims"
    assert "log_indexes" in whole["detail"]

    flow.checker.verify_cycle()
    for case, amount, index in ((seven, "7000", first), (nine, "9000", second)):
        verified = flow.read(case)
        assert verified["status"] == "confirming", verified
        assert verified["facts"]["amount"] == amount
        assert verified["facts"]["log_indexes"] == [index]
        assert live_claims(flow, case) == [index]


def test_a_claim_on_all_holds_every_log_and_releases_them_when_cancelled(
    flow: Flow, devnet: DevnetCluster
) -> None:
    token, tx, (stranger_log, first, second) = batch(devnet.chain("bsc"))
    whole = flow.file(tx_hash=tx, token=token)
    assert live_claims(flow, whole) == [], "which logs it covers is known once verified"
    flow.checker.verify_cycle()
    assert flow.read(whole)["facts"]["amount"] == "16000"
    assert live_claims(flow, whole) == [first, second]

    status, refused = post(flow, tx_hash=tx, token=token, log_indexes=[second])
    assert (status, refused["reason_code"]) == (409, "duplicate_claim")
    assert "RC-000001" in refused["detail"]

    cancelled = flow.client.post(f"/v1/appeals/{whole['id']}/cancel", headers=flow.headers)
    assert cancelled.status_code == 200
    assert live_claims(flow, whole) == []
    # Released: both logs can be claimed again, one by one.
    later = flow.file(tx_hash=tx, token=token, log_indexes=[second])
    assert live_claims(flow, later) == [second]
    # A log that went to someone else is no transfer of ours: refused, and let go.
    wrong = flow.file(tx_hash=tx, token=token, log_indexes=[stranger_log])
    flow.checker.verify_cycle()
    assert flow.read(later)["facts"]["amount"] == "9000"
    assert flow.read(wrong)["status"] == "rejected"
    last = flow.events(wrong)[-1]
    assert last["reason_code"] == "not_our_deposit_address"
    assert f"log {stranger_log}" in last["detail"]
    assert STRANGER in last["detail"]
    assert live_claims(flow, wrong) == []


def test_a_claimed_amount_of_one_log_without_naming_it_says_how_to_name_it(
    flow: Flow, devnet: DevnetCluster
) -> None:
    token, tx, (_, first, second) = batch(devnet.chain("bsc"))
    case = flow.file(tx_hash=tx, token=token, claimed_amount="9000")
    flow.checker.verify_cycle()
    assert flow.read(case)["status"] == "rejected"
    last = flow.events(case)[-1]
    assert last["reason_code"] == "amount_mismatch"
    assert f"log {first}: 7000, log {second}: 9000" in last["detail"]
    assert "log_indexes" in last["detail"]
    assert live_claims(flow, case) == []


def test_two_claims_that_both_passed_filing_meet_at_verification_and_one_is_a_duplicate(
    flow: Flow, devnet: DevnetCluster
) -> None:
    """As if two filings raced: the unique index over live claims refuses the later one."""
    token, tx, (_, first, second) = batch(devnet.chain("bsc"))
    winner = flow.file(tx_hash=tx, token=token)
    with flow.context.database.unit_of_work() as session:
        repository = CaseRepository(session)
        stored = repository.get(winner["id"])
        assert stored is not None
        twin: Case = replace(stored, id=str(uuid.uuid4()), number=None, pending_events=[])
        twin.last_seq = 0
        twin.open(actor="user:alice", at=stored.created_at)
        repository.add(twin)

    report = flow.checker.verify_cycle()

    assert flow.read(winner)["status"] == "confirming"
    assert live_claims(flow, winner) == [first, second]
    with flow.context.database.unit_of_work() as session:
        lost = CaseRepository(session).get(twin.id)
        events = CaseRepository(session).events(twin.id)
    assert lost is not None
    assert lost.status == CaseStatus.REJECTED
    assert events[-1].reason_code == "duplicate_claim"
    assert live_claims(flow, {"id": twin.id}) == []
    assert report.moved["rejected"] == 1


def test_log_indexes_are_refused_for_native_value_and_when_repeated(flow: Flow) -> None:
    tx = "0x" + "ab" * 32
    status, native = post(flow, tx_hash=tx, token="native", log_indexes=[3])
    assert status == 422
    assert "native value has no Transfer log" in native["detail"]
    token = "0x" + "12" * 20
    status, repeated = post(flow, tx_hash=tx, token=token, log_indexes=[4, 4])
    assert (status, "4 named more than once" in repeated["detail"]) == (422, True)
    status, negative = post(flow, tx_hash=tx, token=token, log_indexes=[-1])
    assert status == 422
    assert "log_indexes" in negative["detail"]
