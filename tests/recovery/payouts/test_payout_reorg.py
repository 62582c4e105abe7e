"""A deposit reorged out after approval, before the payout is signed, puts it on hold."""

from __future__ import annotations

from recovery.api.context import AppContext
from recovery.payouts.engine import PayoutEngine
from tests.conftest import Clock
from tests.recovery.payouts.test_payout_flow import approve, run_until_paid, transactions
from tests.recovery.review.conftest import Desk


def test_the_engine_checks_the_deposit_before_signing_and_pays_once_it_is_back(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    refund = "0xaAaAaAaaAaAaAaaAaAAAAAAAAaaaAaAaAaaAaaAa"
    case = desk.quoted_case(wei=10**18, sender_index=4, refund=refund)
    raw = str(bsc.rpc("eth_getRawTransactionByHash", case["tx_hash"]))
    approve(desk, case, 4)
    block = int(case["facts"]["block_number"])
    bsc.reorg(bsc.head() - block + 1)  # the deposit's block and everything after: gone

    engine.payout_cycle()
    held = desk.read(case)
    assert held["status"] == "on_hold"
    last = desk.events(case)[-1]
    assert (last["from_status"], last["reason_code"]) == ("payout_pending", "reorged")
    assert transactions(context) == []

    bsc.wait_mined([str(bsc.rpc("eth_sendRawTransaction", raw))])  # mined again
    desk.checker.verify_cycle()
    bsc.mine(2)
    clock.advance(seconds=2)
    desk.checker.confirm_cycle()
    again = desk.read(case)
    assert again["status"] == "quoted", again
    before = bsc.native_balance(refund)
    approve(desk, again, 4)  # accepted and approved anew, by the same reviewer
    run_until_paid(desk, engine, clock, "bsc")

    assert desk.read(case)["status"] == "paid"
    assert bsc.native_balance(refund) - before == int(again["verdict"]["quote"]["net_amount"])
    assert bsc.native_balance(refund) - before == int(desk.read(case)["delivered_amount"])
    assert [row.kind for row in transactions(context)] == ["transfer"]
