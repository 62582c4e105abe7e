"""Claims checked against two real anvil nodes: submitted -> verifying -> confirming -> quoted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chains.devnet import DevnetChain, DevnetCluster
from chains.evm import EvmAdapter
from policies import Policy, load_policy
from recovery.access.keys import Role
from recovery.api.context import AppContext
from tests.conftest import Clock
from tests.recovery.verification.builders import DEPOSIT, STRANGER, Flow, make_flow


def test_usdt_over_bsc_to_an_ethereum_address_is_verified_confirmed_and_quoted(
    flow: Flow, devnet: DevnetCluster, clock: Clock
) -> None:
    bsc = devnet.chain("bsc")
    usdt = bsc.deploy_token(symbol="USDT", name="Tether USD", decimals=6)
    sender = bsc.accounts[3]
    tx = bsc.mis_sent_deposit(usdt, DEPOSIT, 250_000_000, sender=sender)
    case = flow.file(tx_hash=tx, token=usdt, claimed_amount="250000000")

    report = flow.checker.verify_cycle()
    assert report.moved["confirming"] == 1
    verified = flow.read(case)
    assert verified["status"] == "confirming"
    assert verified["facts"]["amount"] == "250000000"
    assert verified["facts"]["decimals"] == 6
    assert verified["facts"]["symbol"] == "USDT"
    assert verified["facts"]["sender"].lower() == sender.lower()
    assert verified["facts"]["deposit_address_is_contract"] is False
    assert verified["verdict"]["eligible"] is True

    flow.checker.confirm_cycle()  # one confirmation: the block itself
    assert flow.read(case)["status"] == "confirming"
    assert flow.read(case)["check_note"] == "1 of 2 confirmations on bsc"
    bsc.mine(1)
    flow.checker.confirm_cycle()
    assert flow.read(case)["status"] == "confirming", "not due again before a block time"
    clock.advance(seconds=1)
    flow.checker.confirm_cycle()
    quoted = flow.read(case)
    assert quoted["status"] == "quoted"
    quote = quoted["verdict"]["quote"]
    assert int(quote["fee_amount"]) + int(quote["net_amount"]) == 250_000_000
    assert 0 < int(quote["net_amount"]) < 250_000_000
    assert [e["to_status"] for e in flow.events(case)] == [
        "submitted",
        "verifying",
        "confirming",
        "quoted",
    ]


def test_unlisted_token_on_ethereum_is_verified(flow: Flow, devnet: DevnetCluster) -> None:
    ethereum = devnet.chain("ethereum")
    token = ethereum.deploy_token(symbol="ODD", name="Odd Token", decimals=18)
    tx = ethereum.mis_sent_deposit(token, DEPOSIT, 5 * 10**18, sender=ethereum.accounts[4])
    case = flow.file(
        case_type="unlisted_token", network="ethereum", opened_for=None, tx_hash=tx, token=token
    )
    flow.checker.verify_cycle()
    verified = flow.read(case)
    assert verified["status"] == "confirming", verified
    assert verified["facts"]["amount"] == str(5 * 10**18)
    assert verified["facts"]["symbol"] == "ODD"


def test_native_coin_over_bsc_is_verified(flow: Flow, devnet: DevnetCluster) -> None:
    bsc = devnet.chain("bsc")
    tx = bsc.send(bsc.accounts[5], to=DEPOSIT, value=3 * 10**18)
    case = flow.file(tx_hash=tx, claimed_amount=str(3 * 10**18))
    flow.checker.verify_cycle()
    verified = flow.read(case)
    assert verified["status"] == "confirming", verified
    assert verified["facts"]["token"] == "native"
    assert verified["facts"]["decimals"] == 18


@pytest.mark.parametrize(
    ("scenario", "reason"),
    [
        ("reverted", "tx_failed"),
        ("someone_else", "not_our_deposit_address"),
        ("other_token", "token_mismatch"),
        ("wrong_amount", "amount_mismatch"),
    ],
)
def test_chain_facts_that_rule_the_claim_out_reject_it_with_a_reason(
    flow: Flow, devnet: DevnetCluster, scenario: str, reason: str
) -> None:
    bsc = devnet.chain("bsc")
    token = bsc.deploy_token(symbol="TKN", name="Token", decimals=6)
    other = bsc.deploy_token(symbol="OTH", name="Other", decimals=6)
    sender = bsc.accounts[6]
    claimed = {"token": token}
    if scenario == "reverted":
        tx = bsc.reverted_transfer(token, sender, DEPOSIT, 10**6)
    elif scenario == "someone_else":
        tx = bsc.mis_sent_deposit(token, STRANGER, 10**6, sender=sender)
    elif scenario == "other_token":
        tx = bsc.mis_sent_deposit(other, DEPOSIT, 10**6, sender=sender)
    else:
        tx = bsc.mis_sent_deposit(token, DEPOSIT, 10**6, sender=sender)
        claimed["claimed_amount"] = "2000000"
    case = flow.file(tx_hash=tx, **claimed)
    flow.checker.verify_cycle()
    rejected = flow.read(case)
    assert rejected["status"] == "rejected"
    last = flow.events(case)[-1]
    assert last["reason_code"] == reason
    assert tx.lower()[:10] in last["detail"].lower() or reason == "amount_mismatch"


def test_several_transfer_logs_to_the_address_are_claimed_together_by_default(
    flow: Flow, devnet: DevnetCluster
) -> None:
    bsc = devnet.chain("bsc")
    token = bsc.deploy_token(symbol="MLT", name="Multi", decimals=6)
    tx = bsc.batch_transfer(
        token, bsc.accounts[7], [(STRANGER, 1_000), (DEPOSIT, 7_000), (DEPOSIT, 9_000)]
    )
    case = flow.file(tx_hash=tx, token=token, claimed_amount="16000")
    flow.checker.verify_cycle()
    verified = flow.read(case)
    assert verified["status"] == "confirming", verified
    assert verified["facts"]["amount"] == "16000"
    receipt = bsc.receipt(tx)
    transfer_logs = [log for log in receipt["logs"] if len(log["topics"]) == 3]
    ours = [int(transfer_logs[i]["logIndex"], 16) for i in (1, 2)]
    assert verified["facts"]["log_indexes"] == ours
    assert verified["facts"]["log_index"] == ours[0]
    assert verified["facts"]["transfers"] == [
        {"log_index": ours[0], "amount": "7000"},
        {"log_index": ours[1], "amount": "9000"},
    ]


def test_bytes32_symbol_and_no_return_tokens_are_verified(
    flow: Flow, devnet: DevnetCluster
) -> None:
    bsc = devnet.chain("bsc")
    odd = bsc.deploy_bytes32_token(symbol="B32", name="Bytes Token")
    silent = bsc.deploy_no_return_token()
    owner = bsc.accounts[0]
    cases = [
        flow.file(tx_hash=bsc.transfer_token(odd, owner, DEPOSIT, 10**18), token=odd),
        flow.file(tx_hash=bsc.transfer_token(silent, owner, DEPOSIT, 10**12), token=silent),
    ]
    flow.checker.verify_cycle()
    first, second = (flow.read(c) for c in cases)
    assert first["status"] == "confirming", first
    assert first["facts"]["symbol"] == "B32"
    assert second["status"] == "confirming", second
    assert second["facts"]["decimals"] is None
    assert second["facts"]["amount"] == str(10**12)


def test_unseen_transaction_is_retried_until_the_deadline(flow: Flow, clock: Clock) -> None:
    case = flow.file(tx_hash="0x" + "ee" * 32)
    flow.checker.verify_cycle()
    waiting = flow.read(case)
    assert waiting["status"] == "verifying"
    assert "not found on bsc yet" in waiting["check_note"]
    clock.advance(hours=7)
    flow.checker.verify_cycle()
    assert flow.read(case)["status"] == "rejected"
    assert flow.events(case)[-1]["reason_code"] == "tx_not_found"


def test_all_rpc_endpoints_down_leaves_the_case_where_it_was_and_says_why(
    context: AppContext, auth: Any, clock: Clock, devnet: DevnetCluster
) -> None:
    dead = {"bsc": EvmAdapter("bsc", ["http://127.0.0.1:9"], timeout=0.5, retries=0)}
    flow = next(make_flow(context, auth, dead, clock))  # type: ignore[arg-type]
    bsc = devnet.chain("bsc")
    tx = bsc.send(bsc.accounts[5], to=DEPOSIT, value=10**18)
    case = flow.file(tx_hash=tx)
    report = flow.checker.verify_cycle()
    assert report.rpc_errors["bsc"] == 1
    stuck = flow.read(case)
    assert stuck["status"] == "submitted"
    assert "the bsc nodes did not answer" in stuck["check_note"]
    assert "http" not in stuck["check_note"]
    assert len(flow.events(case)) == 1
    # The node is back: the next due cycle proceeds.
    flow.checker.adapters = {"bsc": devnet.adapter("bsc")}
    clock.advance(seconds=30)
    flow.checker.verify_cycle()
    assert flow.read(case)["status"] == "confirming"


@pytest.fixture
def strict_policy(tmp_path: Path) -> Policy:
    overlay = tmp_path / "strict.yaml"
    overlay.write_text(
        "networks:\n  bsc:\n    wrong_network:\n      class: conditional\n"
        "      conditions:\n        - id: deposit_address_is_eoa\n"
    )
    return load_policy(overlays=["devnet", overlay])


def test_a_deposit_address_that_is_a_contract_is_rejected_where_the_policy_says_so(
    context: AppContext,
    auth: Any,
    adapters: dict[str, EvmAdapter],
    clock: Clock,
    devnet: DevnetCluster,
    strict_policy: Policy,
) -> None:
    context.policy = strict_policy
    flow = next(make_flow(context, auth, adapters, clock))  # type: ignore[arg-type]
    bsc: DevnetChain = devnet.chain("bsc")
    contract_deposit = "0x4444444444444444444444444444444444444444"
    bsc.place_contract_at(contract_deposit)
    admin = auth("ops2", Role.ADMIN)
    flow.client.post(
        "/v1/deposit-addresses",
        json={"address": contract_deposit, "owner": "alice", "networks": ["ethereum"]},
        headers=admin,
    )
    tx = bsc.send(bsc.accounts[5], to=contract_deposit, value=10**18)
    case = flow.file(tx_hash=tx, deposit_address=contract_deposit)
    flow.checker.verify_cycle()
    assert flow.read(case)["status"] == "rejected"
    assert flow.events(case)[-1]["reason_code"] == "deposit_address_is_contract"
