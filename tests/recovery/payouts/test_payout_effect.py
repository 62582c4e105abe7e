"""Paid means it arrived: odd tokens are judged by what reaches the refund address."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from chains.devnet import DevnetChain, artifacts
from recovery.api.context import AppContext
from recovery.db.tables import LedgerEntryRow
from recovery.payouts.engine import PayoutEngine
from tests.conftest import Clock
from tests.recovery.payouts.conftest import mining_held
from tests.recovery.payouts.test_payout_flow import approve, run_until_paid, transactions
from tests.recovery.review.conftest import Desk


def file_transfer(
    desk: Desk, tx: str, token: str, refund: str, claimed: int | None = None
) -> dict[str, Any]:
    """File a wrong-network appeal (bsc, opened for ethereum) for `tx`; the filed case."""
    body: dict[str, Any] = {
        "case_type": "wrong_network",
        "network": "bsc",
        "opened_for": "ethereum",
        "tx_hash": tx,
        "token": token,
        "deposit_address": desk.deposit,
        "refund_address": refund,
    }
    if claimed is not None:
        body["claimed_amount"] = str(claimed)
    filed = desk.client.post("/v1/appeals", json=body, headers=desk.alice)
    assert filed.status_code == 201, filed.text
    return filed.json()  # type: ignore[no-any-return]


def checked(desk: Desk, chain: DevnetChain, case: dict[str, Any]) -> Any:
    """Verify and confirm the case; the case as it then stands."""
    desk.checker.verify_cycle()
    chain.mine(2)
    desk.clock.advance(seconds=2)
    desk.checker.confirm_cycle()
    return desk.read(case)


def filed_and_checked(
    desk: Desk, chain: DevnetChain, token: str, value: int, sender: int, *, claim: bool = True
) -> Any:
    """A token deposit over bsc, filed, verified and confirmed; the case as it then stands."""
    account = chain.accounts[sender]
    chain.fund(account, 10**20)
    tx = chain.mis_sent_deposit(token, desk.deposit, value, sender=account)
    return checked(desk, chain, file_transfer(desk, tx, token, account, value if claim else None))


def fees_booked(context: AppContext) -> list[LedgerEntryRow]:
    with context.database.unit_of_work() as session:
        rows = list(session.scalars(select(LedgerEntryRow).where(LedgerEntryRow.kind == "fee")))
        for row in rows:
            session.expunge(row)
    return rows


def owner_call_ahead(chain: DevnetChain, token: str, function: str, *args: Any) -> None:
    """The token's owner calls `function` with a high tip: mined ahead of pending payouts."""
    chain.rpc(
        "eth_sendTransaction",
        {
            "from": chain.accounts[0],
            "to": token,
            "data": artifacts.load("QuirkyToken").call_data(function, *args),
            "gas": hex(200_000),
            "maxPriorityFeePerGas": hex(50 * 10**9),
            "maxFeePerGas": hex(100 * 10**9),
        },
    )


def test_a_false_returning_transfer_that_moved_nothing_is_never_paid(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    token = bsc.deploy_quirky_token(symbol="OLD", decimals=18)
    bsc.set_return_false(token)
    case = filed_and_checked(desk, bsc, token, 5 * 10**18, sender=3)
    assert case["status"] == "quoted"
    refund = case["refund_address"]
    approve(desk, case, 3)
    bsc.fund(desk.deposit, 10**18)
    before = bsc.token_balance(token, refund)
    with mining_held(bsc):
        engine.payout_cycle()
        assert desk.read(case)["status"] == "payout_sent"
        # The owner claws the deposit back in the same block, ahead of the payout.
        owner_call_ahead(bsc, token, "seize", desk.deposit, bsc.accounts[9], 5 * 10**18)
        bsc.mine(3)
    run_until_paid(desk, engine, clock, "bsc")

    after = desk.read(case)
    assert after["status"] == "payout_failed"
    assert after["delivered_amount"] is None
    last = desk.events(case)[-1]
    assert last["reason_code"] == "payout_had_no_effect"
    assert "moved nothing" in last["detail"]
    assert "holds 0 base units" in last["detail"]
    assert bsc.token_balance(token, refund) == before
    assert fees_booked(context) == []
    assert 'recovery_ledger_base_units{kind="fee"' not in desk.client.get("/metrics").text
    run_until_paid(desk, engine, clock, "bsc")
    assert desk.read(case)["status"] == "payout_failed", "never retried on its own"


def test_a_fee_on_transfer_token_shows_what_arrives_and_records_it_exactly(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    token = bsc.deploy_quirky_token(symbol="FOT", decimals=6)
    bsc.set_token_fee(token, 100)  # the token keeps 1% of every transfer
    # What arrives at the deposit is 1% less than was sent: the user claims no amount.
    case = filed_and_checked(desk, bsc, token, 100_000_000, sender=4, claim=False)
    assert case["status"] == "quoted", case
    quote = case["verdict"]["quote"]
    net = int(quote["net_amount"])
    keeps = net // 100
    assert (int(quote["token_keeps_amount"]), int(quote["received_amount"])) == (keeps, net - keeps)
    assert any("the token keeps" in note for note in quote["notes"])
    refund = case["refund_address"]
    before = bsc.token_balance(token, refund)
    approve(desk, case, 4)
    run_until_paid(desk, engine, clock, "bsc")

    paid = desk.read(case)
    assert paid["status"] == "paid"
    arrived = bsc.token_balance(token, refund) - before
    assert int(paid["delivered_amount"]) == arrived == net - keeps
    last = desk.events(case)[-1]
    assert last["reason_code"] == "payout_shortfall"
    assert f"{arrived} base units arrived" in last["detail"]
    metrics = desk.client.get("/metrics").text
    labels = f'network="bsc",token="{token}"'
    values = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line and not line.startswith("#")
    }
    assert values[f"recovery_payout_shortfalls{{{labels}}}"] == 1
    assert values[f"recovery_payouts_delivered_base_units{{{labels}}}"] == arrived


def test_a_deposit_moved_away_after_the_quote_is_held_and_nothing_is_signed(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    token = bsc.deploy_quirky_token(symbol="CLAW", decimals=6)
    case = filed_and_checked(desk, bsc, token, 50_000_000, sender=2)
    assert case["status"] == "quoted"
    approve(desk, case, 2)
    bsc.seize(token, desk.deposit, bsc.accounts[9], 20_000_000)  # the owner claws some back
    gas_wallet = engine.signer.gas_wallet_address
    gas_before = bsc.native_balance(gas_wallet)

    run_until_paid(desk, engine, clock, "bsc")

    held = desk.read(case)
    assert held["status"] == "in_review"
    last = desk.events(case)[-1]
    assert last["reason_code"] == "deposit_balance_short"
    assert "holds 30000000" in last["detail"]
    assert "50000000 are needed" in last["detail"]
    assert transactions(context) == [], "no payout signed"
    assert bsc.native_balance(gas_wallet) == gas_before, "no gas spent"


def test_two_cases_that_the_balance_cannot_both_cover_hold_the_second(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    token = bsc.deploy_quirky_token(symbol="TWO", decimals=6)
    first = filed_and_checked(desk, bsc, token, 40_000_000, sender=5)
    assert first["status"] == "quoted"
    bsc.seize(token, desk.deposit, bsc.accounts[9], 10_000_000)  # 30 left of the first 40
    second = filed_and_checked(desk, bsc, token, 40_000_000, sender=6)
    # 70 held, 80 needed: the later case is the one that waits.
    assert second["status"] == "in_review"
    assert desk.events(second)[-1]["reason_code"] == "deposit_balance_short"
    held = next(c for c in second["verdict"]["conditions"] if c["id"] == "deposit_balance_covers")
    assert held["status"] == "fail"
    assert "holds 70000000" in held["detail"]
    bsc.mint(token, desk.deposit, 10_000_000)  # the exchange restores the balance
    refund = first["refund_address"]
    before = bsc.token_balance(token, refund)
    approve(desk, first, 5)
    run_until_paid(desk, engine, clock, "bsc")
    paid = desk.read(first)
    assert paid["status"] == "paid"
    assert bsc.token_balance(token, refund) - before == int(paid["delivered_amount"])


def test_a_paused_token_is_held_before_the_quote_with_the_decoded_reason(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock
) -> None:
    desk, _ = paying_desk
    bsc = desk.devnet.chain("bsc")
    token = bsc.deploy_quirky_token(symbol="PSD", decimals=6)
    account = bsc.accounts[7]
    bsc.mint(token, account, 10**8)
    tx = bsc.transfer_token(token, account, desk.deposit, 10**8)
    bsc.pause_token(token)
    case = checked(desk, bsc, file_transfer(desk, tx, token, account))
    assert case["status"] == "in_review"
    last = desk.events(case)[-1]
    assert last["reason_code"] == "token_not_transferable"
    assert "paused" in last["detail"]
    condition = next(c for c in case["verdict"]["conditions"] if c["id"] == "token_transferable")
    assert (condition["status"], "paused" in condition["detail"]) == ("fail", True)
    assert (case["verdict"]["eligible"], case["verdict"]["quote"]) == (False, None)
    refused = desk.client.post(f"/v1/review/{case['id']}/approve", headers=desk.rita)
    assert refused.status_code == 409, "no quote was issued, so nothing can be approved"
    assert transactions(context) == []


def test_an_rpc_outage_during_the_payout_check_leaves_the_case_confirming(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock
) -> None:
    from chains.errors import RpcUnavailable
    from chains.evm.adapter import EvmAdapter
    from recovery.verification.service import Checker

    class NoSimulation(EvmAdapter):
        def simulate_transfer(self, **_: Any) -> Any:
            raise RpcUnavailable("bsc", "eth_simulateV1", {"http://node": "connection refused"})

    desk, _ = paying_desk
    bsc = desk.devnet.chain("bsc")
    account = bsc.accounts[8]
    bsc.fund(account, 10**20)
    tx = bsc.send(account, to=desk.deposit, value=10**18)
    filed = file_transfer(desk, tx, "native", account)
    desk.checker.verify_cycle()
    bsc.mine(2)
    clock.advance(seconds=2)
    flaky = NoSimulation("bsc", desk.devnet.endpoints()["bsc"].split(","))
    report = Checker(context.database, context.policy, {"bsc": flaky}, clock).confirm_cycle()
    flaky.close()
    case = desk.read(filed)
    assert case["status"] == "confirming"
    assert "nodes did not answer" in (case["check_note"] or "")
    assert (report.errors, report.rpc_errors["bsc"]) == (0, 1)
    clock.advance(seconds=20)
    desk.checker.confirm_cycle()
    assert desk.read(filed)["status"] == "quoted", "the next cycle with a node quotes it"


def test_a_token_reached_through_a_front_is_named_with_its_ledger_and_paid_exactly(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    front, ledger = bsc.deploy_front_token(symbol="FRT", decimals=6)
    account = bsc.accounts[4]
    bsc.fund(account, 10**20)
    bsc.call_contract("TokenFront", front, "mint", account, 60_000_000)
    tx = bsc.call_contract(
        "TokenFront", front, "transfer", desk.deposit, 60_000_000, sender=account
    )
    case = checked(desk, bsc, file_transfer(desk, tx, front, account, 60_000_000))
    assert case["status"] == "quoted", case
    assert case["facts"]["log_token"].lower() == ledger.lower()
    named = next(c for c in case["verdict"]["conditions"] if c["id"] == "token_contract")
    assert named["status"] == "pass"
    assert ledger in named["detail"]
    assert f"the payout calls {front}" in named["detail"]
    net = int(case["verdict"]["quote"]["net_amount"])
    before = bsc.token_balance(front, account)
    approve(desk, case, 4)
    run_until_paid(desk, engine, clock, "bsc")
    paid = desk.read(case)
    assert paid["status"] == "paid"
    assert bsc.token_balance(front, account) - before == int(paid["delivered_amount"]) == net
