"""Never twice: one payout, one nonce, whatever workers, leases, fees and reorgs do."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from recovery.api.context import AppContext
from recovery.payouts.engine import PayoutEngine
from tests.conftest import Clock
from tests.recovery.payouts.conftest import mining_held
from tests.recovery.payouts.test_payout_flow import approve, run_until_paid, transactions
from tests.recovery.review.conftest import Desk


class SlowReads:
    """An adapter whose fee reads hang on every other call, longer than a payout lease.

    The hang sits between "nothing signed yet" and signing: the moment a lapsed lease
    lets a second worker take the case.
    """

    def __init__(self, real: object, delay: float) -> None:
        self.real = real
        self.delay = delay
        self.calls = 0

    def fee_params(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls % 2 == 1:
            time.sleep(self.delay)
        return self.real.fee_params(**kwargs)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)


def test_workers_whose_leases_lapse_inside_a_slow_read_pay_each_case_once(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext
) -> None:
    desk, model = paying_desk
    bsc = desk.devnet.chain("bsc")
    cases = []
    for index in range(4):
        refund = f"0x{'00' * 19}{0xA0 + index:02x}"
        case = desk.quoted_case(wei=10**18, sender_index=1 + index, refund=refund)
        approve(desk, case, 1 + index)
        cases.append((case, refund, bsc.native_balance(refund)))
    sent_before = int(bsc.rpc("eth_getTransactionCount", desk.deposit, "latest"), 16)

    def now() -> datetime:
        return datetime.now(UTC)

    engines = [
        PayoutEngine(
            context.database,
            context.policy,
            {"bsc": SlowReads(model.adapters["bsc"], 1.2)},  # type: ignore[dict-item]
            model.signer,
            now,
            owner=f"worker-{n}",
            lease=timedelta(seconds=1),
            retry=timedelta(milliseconds=100),
        )
        for n in range(3)
    ]
    stop = threading.Event()
    failures: list[BaseException] = []
    lost = [0]

    def work(engine: PayoutEngine) -> None:
        try:
            while not stop.is_set():
                lost[0] += engine.payout_cycle().lost_leases
                time.sleep(0.05)
        except BaseException as exc:
            failures.append(exc)

    def mine() -> None:
        while not stop.is_set():
            bsc.mine(1)
            time.sleep(0.2)

    threads = [threading.Thread(target=work, args=(e,)) for e in engines]
    threads.append(threading.Thread(target=mine))
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if all(desk.read(c)["status"] == "paid" for c, _, _ in cases):
                break
            time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    for engine in engines:
        engine.close()
    assert failures == []
    assert lost[0] > 0, "some worker found its lease taken while it was inside a slow read"
    statuses = [desk.read(c)["status"] for c, _, _ in cases]
    assert statuses == ["paid"] * len(cases)
    sent_after = int(bsc.rpc("eth_getTransactionCount", desk.deposit, "latest"), 16)
    assert sent_after - sent_before == len(cases), "one transfer on chain per case"
    for case, refund, before in cases:
        delivered = int(desk.read(case)["delivered_amount"])
        assert bsc.native_balance(refund) - before == delivered
        assert delivered == int(case["verdict"]["quote"]["net_amount"])
    assert len([t for t in transactions(context) if t.kind == "transfer"]) == len(cases)


def test_a_native_case_whose_deposit_was_swept_is_held_and_the_gas_wallet_pays_nothing(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    case = desk.quoted_case(wei=2 * 10**18, sender_index=5)
    approve(desk, case, 5)
    bsc.fund(desk.deposit, 10**15)  # swept: only dust is left
    gas_wallet = engine.signer.gas_wallet_address
    gas_before = bsc.native_balance(gas_wallet)
    run_until_paid(desk, engine, clock, "bsc")
    held = desk.read(case)
    assert held["status"] == "in_review"
    assert desk.events(case)[-1]["reason_code"] == "deposit_balance_short"
    assert transactions(context) == []
    assert bsc.native_balance(gas_wallet) == gas_before


def test_a_bump_the_sender_cannot_afford_is_topped_up_and_resent_at_the_same_fee(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    token = bsc.deploy_token(symbol="USDT", name="Tether USD", decimals=6)
    bsc.fund(desk.deposit, 0)
    case = desk.quoted_case(wei=300_000_000, sender_index=6, token=token)
    net = int(case["verdict"]["quote"]["net_amount"])
    refund = case["refund_address"]
    before = bsc.token_balance(token, refund)
    approve(desk, case, 6)
    engine.payout_cycle()  # a top-up of exactly the first fee's gas
    topup = transactions(context)[0]
    assert topup.kind == "gas_topup"
    with mining_held(bsc):
        clock.advance(seconds=10)
        engine.payout_cycle()  # the transfer, left in the pool
        assert desk.read(case)["status"] == "payout_sent"
        clock.advance(minutes=6)
        engine.payout_cycle()  # a bump would cost more gas than the address holds
        rows = transactions(context)
        transfers = [r for r in rows if r.kind == "transfer"]
        topups = [r for r in rows if r.kind == "gas_topup"]
        assert len(transfers) == 1, "not bumped while the sender cannot afford it"
        assert len(topups) == 2, "topped up instead"
        assert topups[1].fees["value"] > 0
        bsc.mine(3)
    run_until_paid(desk, engine, clock, "bsc")
    assert desk.read(case)["status"] == "paid"
    assert bsc.token_balance(token, refund) - before == net
    assert int(desk.read(case)["delivered_amount"]) == net


def test_bumps_stop_at_the_fee_cap(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    refund = "0x5555555555555555555555555555555555550005"
    before = bsc.native_balance(refund)
    case = desk.quoted_case(wei=10**18, sender_index=7, refund=refund)
    approve(desk, case, 7)
    with mining_held(bsc):
        engine.payout_cycle()
        first = transactions(context)[0]
        engine.fee_caps = {"bsc": first.fees["max_fee_per_gas"] * 12 // 10}  # room for one
        for _ in range(6):
            clock.advance(minutes=6)
            engine.payout_cycle()
        candidates = transactions(context)
        assert len(candidates) == 2, "one bump, then the cap"
        assert candidates[1].fees["max_fee_per_gas"] <= engine.fee_caps["bsc"]
        assert "fee cap" in (desk.read(case)["check_note"] or "")
        bsc.mine(3)
    run_until_paid(desk, engine, clock, "bsc")
    assert desk.read(case)["status"] == "paid"
    assert int(desk.read(case)["delivered_amount"]) == int(case["verdict"]["quote"]["net_amount"])
    assert bsc.native_balance(refund) - before == int(desk.read(case)["delivered_amount"])


def test_a_paid_payout_reorged_out_is_tracked_again_and_sent_once(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    refund = "0x5555555555555555555555555555555555550006"
    before = bsc.native_balance(refund)
    case = desk.quoted_case(wei=10**18, sender_index=8, refund=refund)
    net = int(case["verdict"]["quote"]["net_amount"])
    approve(desk, case, 8)
    for _ in range(3):
        engine.payout_cycle()
        bsc.mine(1)
        clock.advance(seconds=1)
    paid = desk.read(case)
    assert paid["status"] == "paid"
    block = paid["facts"]["payout"]["block_number"]
    bsc.reorg(bsc.head() - block + 1)  # the payout's block and the ones after it
    assert bsc.native_balance(refund) == before

    clock.advance(seconds=10)
    engine.payout_cycle()
    events = desk.events(case)
    assert [e["reason_code"] for e in events].count("payout_reorged") == 1
    run_until_paid(desk, engine, clock, "bsc")
    assert desk.read(case)["status"] == "paid"
    assert bsc.native_balance(refund) - before == net
    assert int(desk.read(case)["delivered_amount"]) == net
    assert len(transactions(context)) == 1, "the same signed transaction, never a second"


def test_an_outside_spend_from_the_deposit_address_does_not_stop_the_next_payout(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    first_refund = "0x5555555555555555555555555555555555550012"
    first_before = bsc.native_balance(first_refund)
    first = desk.quoted_case(wei=10**18, sender_index=9, refund=first_refund)
    approve(desk, first, 9)
    run_until_paid(desk, engine, clock, "bsc")
    assert desk.read(first)["status"] == "paid"
    assert bsc.native_balance(first_refund) - first_before == int(
        desk.read(first)["delivered_amount"]
    )
    # Someone with the deposit key spends from it outside the service: a nonce is used.
    bsc.impersonate(desk.deposit)
    bsc.send(desk.deposit, bsc.accounts[0], value=10**15)
    refund = "0x5555555555555555555555555555555555550007"
    before = bsc.native_balance(refund)
    second = desk.quoted_case(wei=10**18, sender_index=2, refund=refund)
    approve(desk, second, 2)
    run_until_paid(desk, engine, clock, "bsc")
    assert desk.read(second)["status"] == "paid"
    assert bsc.native_balance(refund) - before == int(desk.read(second)["delivered_amount"])


def test_a_chain_reset_under_a_database_with_nonces_still_pays_the_next_case(
    paying_desk: tuple[Desk, PayoutEngine],
    context: AppContext,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    fresh = bsc.snapshot()
    old_refund = "0x5555555555555555555555555555555555550011"
    old_before = bsc.native_balance(old_refund)
    first = desk.quoted_case(wei=10**18, sender_index=3, refund=old_refund)
    approve(desk, first, 3)
    run_until_paid(desk, engine, clock, "bsc")
    assert desk.read(first)["status"] == "paid"
    assert bsc.native_balance(old_refund) - old_before == int(desk.read(first)["delivered_amount"])
    # The node comes back empty (the run command restarted): the chain forgot the deposit,
    # the payout and the nonce they used; the database remembers them.
    bsc.revert(fresh)
    refund = "0x5555555555555555555555555555555555550008"
    before = bsc.native_balance(refund)
    second = desk.quoted_case(wei=10**18, sender_index=4, refund=refund)
    approve(desk, second, 4)
    run_until_paid(desk, engine, clock, "bsc")
    bsc.mine(20)  # the chain grows past the forgotten payout's height
    run_until_paid(desk, engine, clock, "bsc")

    paid = desk.read(second)
    assert paid["status"] == "paid"
    assert bsc.native_balance(refund) - before == int(paid["delivered_amount"])
    old = desk.read(first)
    assert old["status"] == "paid", "the forgotten payout is flagged, never sent again"
    assert "no longer shows this case's deposit" in (old["check_note"] or "")
    assert "the chain forgot them" in caplog.text, "the nonce counter followed the chain back"
    first_payout = next(t for t in transactions(context) if t.kind == "transfer")
    assert bsc.rpc("eth_getTransactionByHash", first_payout.tx_hash) is None


def test_a_paid_payout_is_watched_until_its_block_is_finalized(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    refund = "0x5555555555555555555555555555555555550010"
    before = bsc.native_balance(refund)
    case = desk.quoted_case(wei=10**18, sender_index=5, refund=refund)
    approve(desk, case, 5)
    run_until_paid(desk, engine, clock, "bsc")
    paid = desk.read(case)
    assert paid["status"] == "paid"
    assert bsc.native_balance(refund) - before == int(paid["delivered_amount"])
    assert paid["facts"]["payout"]["final"] is False, "confirmed is not final yet"
    bsc.mine(70)  # anvil finalizes blocks two epochs (64 slots) behind the head
    run_until_paid(desk, engine, clock, "bsc")
    assert desk.read(case)["facts"]["payout"]["final"] is True


def test_a_top_up_left_behind_by_a_case_on_hold_does_not_block_the_gas_wallet(
    paying_desk: tuple[Desk, PayoutEngine],
    context: AppContext,
    clock: Clock,
    auth: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from recovery.access.keys import Role

    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    token = bsc.deploy_token(symbol="USDT", name="Tether USD", decimals=6)
    bsc.fund(desk.deposit, 0)
    held = desk.quoted_case(wei=100_000_000, sender_index=6, token=token)
    deposit_block = held["facts"]["block_number"]
    approve(desk, held, 6)
    with mining_held(bsc):
        engine.payout_cycle()  # a gas top-up is signed and sits in the pool...
        assert [t.kind for t in transactions(context)] == ["gas_topup"]
        bsc.rpc("anvil_dropAllTransactions")  # ...and is lost
    bsc.reorg(bsc.head() - deposit_block + 1)  # and the deposit itself is reorged out
    clock.advance(seconds=10)
    engine.payout_cycle()
    assert desk.read(held)["status"] == "on_hold"

    # Another deposit address of alice's needs gas too: the gas wallet's nonce gap is
    # closed by sending the left-behind top-up again, then this one's top-up follows.
    other = engine.signer.register_deposit_index(101)
    admin = auth("ops-9", Role.ADMIN)
    registered = desk.client.post(
        "/v1/deposit-addresses",
        json={"address": other, "owner": "alice", "networks": ["ethereum"], "hd_index": 101},
        headers=admin,
    )
    assert registered.status_code == 201, registered.text
    desk.deposit = other
    bsc.fund(other, 0)
    case = desk.quoted_case(wei=100_000_000, sender_index=7, token=token)
    refund = case["refund_address"]
    before = bsc.token_balance(token, refund)
    approve(desk, case, 7)
    run_until_paid(desk, engine, clock, "bsc")
    assert desk.read(case)["status"] == "paid"
    assert bsc.token_balance(token, refund) - before == int(desk.read(case)["delivered_amount"])
    left_behind = transactions(context)[0]
    assert bsc.receipt(left_behind.tx_hash)["status"] == "0x1", "sent again, and it landed"
    assert f"re-broadcast {left_behind.tx_hash}" in caplog.text


def test_a_nonce_taken_by_an_outside_transaction_is_signed_anew_once(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    refund = "0x5555555555555555555555555555555555550009"
    before = bsc.native_balance(refund)
    case = desk.quoted_case(wei=10**18, sender_index=8, refund=refund)
    approve(desk, case, 8)
    with mining_held(bsc):
        engine.payout_cycle()
        (ours,) = transactions(context)
        # Someone with the deposit key replaces our pending payout with a spend of their own.
        bsc.impersonate(desk.deposit)
        bsc.rpc(
            "eth_sendTransaction",
            {
                "from": desk.deposit,
                "to": bsc.accounts[0],
                "value": hex(10**15),
                "nonce": hex(ours.nonce),
                "gas": hex(21_000),
                "maxPriorityFeePerGas": hex(100 * 10**9),
                "maxFeePerGas": hex(200 * 10**9),
            },
        )
        bsc.mine(2)
    assert bsc.rpc("eth_getTransactionReceipt", ours.tx_hash) is None
    clock.advance(seconds=10)
    engine.payout_cycle()
    assert [t.kind for t in transactions(context)] == ["transfer"], "not final: nothing new"
    bsc.mine(70)  # the outside spend is final now: our transaction can never be mined
    bsc.fund(desk.deposit, 3 * 10**18)  # the exchange tops the address up again
    run_until_paid(desk, engine, clock, "bsc")
    assert desk.read(case)["status"] == "paid"
    assert bsc.native_balance(refund) - before == int(desk.read(case)["delivered_amount"])
    kinds = [t.kind for t in transactions(context)]
    assert kinds == ["failed_transfer", "transfer"]
    assert any("signed again with a new nonce" in e["detail"] for e in desk.events(case))


class Interrupted(Exception):
    """Stands for a crash between writing a payout down and broadcasting it."""


def test_a_signed_payout_whose_deposit_left_before_its_broadcast_never_draws_on_the_gas_wallet(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    case = desk.quoted_case(wei=2 * 10**18, sender_index=5)
    approve(desk, case, 5)

    def interrupt(point: str) -> None:
        if point == "after_store":
            raise Interrupted(point)

    interrupted = PayoutEngine(
        context.database,
        context.policy,
        engine.adapters,
        engine.signer,
        clock,
        crash_hook=interrupt,
    )
    interrupted.payout_cycle()
    assert [t.kind for t in transactions(context)] == ["transfer"]
    bsc.fund(desk.deposit, 10**15)  # the deposit leaves before the broadcast
    gas_wallet = engine.signer.gas_wallet_address
    gas_before = bsc.native_balance(gas_wallet)
    clock.advance(seconds=130)  # the interrupted worker's lease lapses
    run_until_paid(desk, engine, clock, "bsc")

    stuck = desk.read(case)
    assert stuck["status"] == "payout_pending"
    assert "less than the payout's" in (stuck["check_note"] or "")
    assert bsc.native_balance(gas_wallet) == gas_before, "the gas wallet paid nothing"
    assert [t.kind for t in transactions(context)] == ["transfer"]
    clock.advance(hours=1)  # never waiting in silence: past the stall limit, an operator's
    engine.payout_cycle()
    quarantined = desk.read(case)
    assert quarantined["status"] == "quarantined"
    assert desk.events(case)[-1]["reason_code"] == "payout_stalled"
    assert bsc.native_balance(gas_wallet) == gas_before


def test_a_refund_address_that_spends_in_the_payout_block_is_still_paid_once(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    case = desk.quoted_case(wei=2 * 10**18, sender_index=6)  # refund = the busy sender
    refund = case["refund_address"]
    net = int(case["verdict"]["quote"]["net_amount"])
    approve(desk, case, 6)
    with mining_held(bsc):
        engine.payout_cycle()
        assert desk.read(case)["status"] == "payout_sent"
        bsc.send(refund, to=bsc.accounts[0], value=5 * 10**18)  # spends in the same block
        bsc.mine(3)
    run_until_paid(desk, engine, clock, "bsc")
    paid = desk.read(case)
    assert paid["status"] == "paid"
    assert int(paid["delivered_amount"]) == net


def test_a_token_refund_address_that_moves_tokens_in_the_payout_block_is_paid_exactly(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    token = bsc.deploy_token(symbol="USDT", name="Tether USD", decimals=6)
    case = desk.quoted_case(wei=80_000_000, sender_index=7, token=token)
    refund = case["refund_address"]
    net = int(case["verdict"]["quote"]["net_amount"])
    approve(desk, case, 7)
    bsc.fund(desk.deposit, 10**18)
    bsc.mint(token, refund, 30_000_000)
    with mining_held(bsc):
        engine.payout_cycle()
        assert desk.read(case)["status"] == "payout_sent"
        bsc.send(refund, token, _transfer_call(bsc.accounts[0], 30_000_000))
        bsc.mine(3)
    run_until_paid(desk, engine, clock, "bsc")
    paid = desk.read(case)
    assert paid["status"] == "paid"
    assert int(paid["delivered_amount"]) == net


def _transfer_call(recipient: str, value: int) -> str:
    from chains.devnet import artifacts

    return artifacts.load("TestToken").call_data("transfer", recipient, value)
