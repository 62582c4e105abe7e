"""Native coin a contract sent to the deposit address: verified through the node's call
trace where the network's nodes trace, refused with a truthful reason where they do not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chains.devnet import DevnetCluster
from chains.evm import EvmAdapter
from policies import Policy, load_policy
from recovery.api.context import AppContext
from tests.conftest import Clock
from tests.recovery.verification.builders import DEPOSIT, STRANGER, Flow, make_flow


def test_native_coin_forwarded_by_a_contract_is_verified_through_the_trace(
    flow: Flow, devnet: DevnetCluster
) -> None:
    bsc = devnet.chain("bsc")
    forwarder = bsc.deploy_forwarder()
    once = bsc.forward_native(forwarder, bsc.accounts[5], [(DEPOSIT, 2 * 10**18)])
    # Two frames pay the deposit address, one pays someone else: one claim, their sum.
    twice = bsc.forward_native(
        forwarder, bsc.accounts[5], [(DEPOSIT, 10**18), (STRANGER, 5), (DEPOSIT, 3 * 10**17)]
    )
    first = flow.file(tx_hash=once, claimed_amount=str(2 * 10**18))
    second = flow.file(tx_hash=twice)

    flow.checker.verify_cycle()

    verified = flow.read(first)
    assert verified["status"] == "confirming", verified
    assert verified["facts"]["amount"] == str(2 * 10**18)
    assert verified["facts"]["internal_transfer"] is True
    assert verified["facts"]["log_indexes"] == [-1]
    # The wallet that signed the transaction is the sender who can prove ownership.
    assert verified["facts"]["sender"] == bsc.accounts[5]
    summed = flow.read(second)
    assert summed["status"] == "confirming", summed
    assert summed["facts"]["amount"] == str(13 * 10**17)


def test_value_a_reverted_frame_sent_is_not_ours_and_the_refusal_says_so(
    flow: Flow, devnet: DevnetCluster
) -> None:
    bsc = devnet.chain("bsc")
    forwarder = bsc.deploy_forwarder()
    tx = bsc.forward_native(forwarder, bsc.accounts[5], [(DEPOSIT, 10**18)], undo=True)
    case = flow.file(tx_hash=tx)
    flow.checker.verify_cycle()
    assert flow.read(case)["status"] == "rejected"
    last = flow.events(case)[-1]
    assert last["reason_code"] == "not_our_deposit_address"
    assert "nor any call frame of its trace" in last["detail"]


@pytest.fixture
def untraced_policy(tmp_path: Path) -> Policy:
    overlay = tmp_path / "untraced.yaml"
    overlay.write_text("networks:\n  bsc:\n    traces: false\n")
    return load_policy(overlays=["devnet", overlay])


def test_without_traces_an_internal_transfer_is_refused_as_unverifiable_not_as_not_ours(
    context: AppContext,
    auth: Any,
    adapters: dict[str, EvmAdapter],
    clock: Clock,
    devnet: DevnetCluster,
    untraced_policy: Policy,
) -> None:
    context.policy = untraced_policy
    flow = next(make_flow(context, auth, adapters, clock))  # type: ignore[arg-type]
    bsc = devnet.chain("bsc")
    forwarder = bsc.deploy_forwarder()
    internal = bsc.forward_native(forwarder, bsc.accounts[5], [(DEPOSIT, 10**18)])
    elsewhere = bsc.send(bsc.accounts[5], to=STRANGER, value=10**18)
    direct = bsc.send(bsc.accounts[5], to=DEPOSIT, value=10**18)
    cases = [flow.file(tx_hash=tx) for tx in (internal, elsewhere, direct)]
    calls = adapters["bsc"].calls

    flow.checker.verify_cycle()

    unverifiable, not_ours, paid = (flow.read(c) for c in cases)
    assert unverifiable["status"] == "rejected"
    last = flow.events(cases[0])[-1]
    assert last["reason_code"] == "internal_transfer_unverifiable"
    assert f"sent no top-level bsc native coin to {DEPOSIT}" in last["detail"]
    assert f"it called {forwarder}" in last["detail"]
    assert "internal transfers cannot be verified on bsc" in last["detail"]
    # A transfer to an account without code cannot have paid anyone else: that is known.
    assert not_ours["status"] == "rejected"
    assert flow.events(cases[1])[-1]["reason_code"] == "not_our_deposit_address"
    assert "an account without code" in flow.events(cases[1])[-1]["detail"]
    assert paid["status"] == "confirming"
    assert paid["facts"]["internal_transfer"] is False
    # Transactions, then code, in two batches; no trace was asked for.
    assert adapters["bsc"].calls - calls == 2
