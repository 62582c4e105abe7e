"""Reorgs on a real anvil node under watched deposits: before a quote, and after approval."""

from __future__ import annotations

from typing import Any

from chains.devnet import DevnetChain, DevnetCluster
from recovery.domain.states import CaseStatus
from tests.conftest import Clock
from tests.recovery.verification.builders import DEPOSIT, Flow


def _deposit(bsc: DevnetChain) -> tuple[str, str]:
    """A native deposit of 2 BNB to DEPOSIT; its hash and signed raw form (to mine it again)."""
    tx = bsc.send(bsc.accounts[5], to=DEPOSIT, value=2 * 10**18)
    return tx, str(bsc.rpc("eth_getRawTransactionByHash", tx))


def _reorg_out(bsc: DevnetChain, case: dict[str, Any]) -> None:
    """Replace every block from the deposit's up to the head with empty ones."""
    block = int(case["facts"]["block_number"])
    bsc.reorg(bsc.head() - block + 1)
    assert bsc.rpc("eth_getTransactionReceipt", case["tx_hash"]) is None


def _quoted(flow: Flow, bsc: DevnetChain, clock: Clock) -> tuple[dict[str, Any], str]:
    """A deposit filed, verified and confirmed up to its quote; the case and the raw tx."""
    tx, raw = _deposit(bsc)
    case = flow.file(tx_hash=tx)
    flow.checker.verify_cycle()
    bsc.mine(1)
    clock.advance(seconds=1)
    flow.checker.confirm_cycle()
    assert flow.read(case)["status"] == "quoted"
    return case, raw


def _mine_again(bsc: DevnetChain, raw: str) -> None:
    bsc.wait_mined([str(bsc.rpc("eth_sendRawTransaction", raw))])


def test_a_reorg_under_a_confirming_deposit_sends_it_back_and_mined_again_it_is_quoted(
    flow: Flow, devnet: DevnetCluster, clock: Clock
) -> None:
    bsc = devnet.chain("bsc")
    tx, raw = _deposit(bsc)
    case = flow.file(tx_hash=tx)
    flow.checker.verify_cycle()
    confirming = flow.read(case)
    assert confirming["status"] == "confirming"
    first_block = confirming["facts"]["block_hash"]

    _reorg_out(bsc, confirming)
    clock.advance(seconds=1)
    report = flow.checker.confirm_cycle()
    assert report.moved["verifying"] == 1
    reorged = flow.read(case)
    assert reorged["status"] == "verifying"
    last = flow.events(case)[-1]
    assert (last["from_status"], last["reason_code"]) == ("confirming", "reorged")
    assert first_block in last["detail"]

    flow.checker.verify_cycle()  # gone from the chain for now: looked for until the deadline
    assert flow.read(case)["status"] == "verifying"
    assert "not found on bsc yet" in flow.read(case)["check_note"]

    _mine_again(bsc, raw)
    bsc.mine(1)
    clock.advance(seconds=20)
    flow.checker.verify_cycle()
    again = flow.read(case)
    assert again["status"] == "confirming"
    assert again["facts"]["block_hash"] != first_block
    clock.advance(seconds=1)
    flow.checker.confirm_cycle()
    assert flow.read(case)["status"] == "quoted"
    assert [(e["to_status"], e["reason_code"]) for e in flow.events(case)] == [
        ("submitted", "filed"),
        ("verifying", None),
        ("confirming", None),
        ("verifying", "reorged"),
        ("confirming", None),
        ("quoted", None),
    ]


def test_an_approved_case_whose_deposit_is_reorged_out_is_put_on_hold_and_verified_again(
    flow: Flow, devnet: DevnetCluster, clock: Clock
) -> None:
    bsc = devnet.chain("bsc")
    case, raw = _quoted(flow, bsc, clock)
    flow.move(case, CaseStatus.IN_REVIEW, CaseStatus.APPROVED)

    # Watched while nothing happens: nothing is written, so the payout's writes never
    # meet a version bumped by the watch.
    version = flow.stored(case).version
    clock.advance(seconds=1)
    report = flow.checker.confirm_cycle()
    assert report.claimed == 1
    assert flow.stored(case).status == CaseStatus.APPROVED
    assert flow.stored(case).version == version

    _reorg_out(bsc, flow.read(case))
    clock.advance(seconds=1)
    flow.checker.confirm_cycle()
    held = flow.read(case)
    assert held["status"] == "on_hold"
    last = flow.events(case)[-1]
    assert (last["from_status"], last["reason_code"]) == ("approved", "reorged")
    assert "before any payout" in last["detail"]

    _mine_again(bsc, raw)
    clock.advance(seconds=1)
    flow.checker.verify_cycle()
    assert flow.read(case)["status"] == "confirming"
    assert [e["to_status"] for e in flow.events(case)][-4:] == [
        "approved",
        "on_hold",
        "verifying",
        "confirming",
    ]


def test_a_chain_rewound_below_the_deposit_waits_and_a_new_block_there_is_a_reorg(
    flow: Flow, devnet: DevnetCluster, clock: Clock
) -> None:
    bsc = devnet.chain("bsc")
    snapshot = bsc.snapshot()
    tx, _ = _deposit(bsc)
    case = flow.file(tx_hash=tx)
    flow.checker.verify_cycle()
    assert flow.read(case)["status"] == "confirming"

    bsc.revert(snapshot)  # the head drops below the deposit's block
    clock.advance(seconds=1)
    flow.checker.confirm_cycle()
    waiting = flow.read(case)
    assert waiting["status"] == "confirming", "a node behind the block proves nothing yet"
    assert "below the deposit's block" in waiting["check_note"]

    bsc.mine(2)  # another block now stands at the deposit's height
    clock.advance(seconds=1)
    flow.checker.confirm_cycle()
    assert flow.read(case)["status"] == "verifying"
    assert flow.events(case)[-1]["reason_code"] == "reorged"


def test_a_case_in_review_whose_deposit_is_reorged_out_goes_back_to_verification(
    flow: Flow, devnet: DevnetCluster, clock: Clock
) -> None:
    bsc = devnet.chain("bsc")
    case, raw = _quoted(flow, bsc, clock)
    quoted = flow.read(case)
    accepted = flow.client.post(
        f"/v1/appeals/{case['id']}/accept",
        json={"quote_id": quoted["verdict"]["quote"]["id"]},
        headers=flow.headers,
    )
    assert accepted.status_code == 200, accepted.text
    version = flow.stored(case).version
    clock.advance(seconds=1)
    flow.checker.confirm_cycle()
    assert flow.stored(case).version == version, "watching writes nothing while all is well"

    _reorg_out(bsc, flow.read(case))
    clock.advance(seconds=1)
    flow.checker.confirm_cycle()
    back = flow.read(case)
    assert back["status"] == "verifying"
    last = flow.events(case)[-1]
    assert (last["from_status"], last["reason_code"]) == ("in_review", "reorged")

    _mine_again(bsc, raw)
    clock.advance(seconds=1)
    flow.checker.verify_cycle()
    assert flow.read(case)["status"] == "confirming"
