"""A payout stuck in the mempool is re-signed on the same nonce with higher fees."""

from __future__ import annotations

from recovery.api.context import AppContext
from recovery.payouts.engine import PayoutEngine
from tests.conftest import Clock
from tests.recovery.payouts.conftest import mining_held
from tests.recovery.payouts.test_payout_flow import approve, transactions
from tests.recovery.review.conftest import Desk


def test_a_stuck_payout_is_fee_bumped_and_paid_exactly_once(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    refund = "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"
    case = desk.quoted_case(wei=10**18, sender_index=7, refund=refund)
    net = int(case["verdict"]["quote"]["net_amount"])
    approve(desk, case, 7)
    before = bsc.native_balance(refund)
    with mining_held(bsc):
        engine.payout_cycle()
        assert desk.read(case)["status"] == "payout_sent"
        clock.advance(minutes=1)
        engine.payout_cycle()
        assert len(transactions(context)) == 1, "not stuck long enough to bump yet"
        clock.advance(minutes=5)
        engine.payout_cycle()
        candidates = transactions(context)
        assert len(candidates) == 2
        first, bump = candidates
        assert (first.nonce, first.sender) == (bump.nonce, bump.sender)
        assert bump.fees["max_fee_per_gas"] > first.fees["max_fee_per_gas"]
        bsc.mine(3)
    clock.advance(seconds=10)
    engine.payout_cycle()
    assert desk.read(case)["status"] == "paid"
    assert bsc.native_balance(refund) - before == net
    assert int(desk.read(case)["delivered_amount"]) == net
    mined = [c for c in candidates if bsc.rpc("eth_getTransactionReceipt", c.tx_hash)]
    assert len(mined) == 1, "exactly one of the candidates is on chain"
