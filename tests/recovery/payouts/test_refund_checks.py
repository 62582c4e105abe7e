"""The refund address is checked again before signing, and a contract there needs a reviewer."""

from __future__ import annotations

from typing import Any

from recovery.access.keys import Role
from recovery.api.context import AppContext
from recovery.payouts.engine import PayoutEngine
from tests.conftest import Clock
from tests.recovery.payouts.test_payout_flow import approve, run_until_paid, transactions
from tests.recovery.review.conftest import Desk


def test_a_refund_address_that_became_ours_after_approval_is_never_signed_for(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, clock: Clock, auth: Any
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    refund = "0x7878787878787878787878787878787878787878"
    case = desk.quoted_case(wei=2 * 10**18, sender_index=3, refund=refund)
    approve(desk, case, 3)
    # The exchange hands the same address out as a deposit address after the filing.
    registered = desk.client.post(
        "/v1/deposit-addresses",
        json={"address": refund, "owner": "carol", "networks": ["ethereum"]},
        headers=auth("ops", Role.ADMIN),
    )
    assert registered.status_code == 201, registered.text
    before = bsc.native_balance(refund)
    run_until_paid(desk, engine, clock, "bsc")
    held = desk.read(case)
    assert held["status"] == "in_review"
    last = desk.events(case)[-1]
    assert last["reason_code"] == "refund_address_ours"
    assert "address of this service" in last["detail"]
    assert [row.kind for row in transactions(context) if "transfer" in row.kind] == []
    assert bsc.native_balance(refund) == before


def test_a_refund_address_holding_code_waits_for_a_reviewer_who_acknowledges_it(
    paying_desk: tuple[Desk, PayoutEngine], clock: Clock
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    usdt = bsc.deploy_token(symbol="USDT", name="Tether USD", decimals=6)
    # Any contract stands in for a smart wallet: a token contract can hold tokens.
    wallet = bsc.deploy_token(symbol="SAFE", name="a contract wallet stand-in", decimals=18)
    case = desk.quoted_case(wei=250_000_000, sender_index=4, refund=wallet, token=usdt)
    verdict = case["verdict"]
    assert "refund_address_is_contract" in verdict["review_flags"]
    flag = next(c for c in verdict["conditions"] if c["id"] == "refund_address_is_contract")
    assert flag["status"] == "pending"
    assert wallet in flag["detail"]
    assert desk.prove(case, key_index=4).status_code == 200
    desk.accept(case)
    blind = desk.client.post(f"/v1/review/{case['id']}/approve", headers=desk.rita)
    assert blind.status_code == 409, blind.text
    assert "refund_address_is_contract" in blind.json()["detail"]
    for reviewer in (desk.rita, desk.rob):
        seen = desk.client.post(
            f"/v1/review/{case['id']}/approve",
            json={"acknowledge": ["refund_address_is_contract"]},
            headers=reviewer,
        )
        assert seen.status_code == 200, seen.text
        if seen.json()["status"] == "approved":
            break
    assert desk.read(case)["status"] == "approved"
    before = bsc.token_balance(usdt, wallet)
    run_until_paid(desk, engine, clock, "bsc")
    assert desk.read(case)["status"] == "paid"
    delivered = int(desk.read(case)["delivered_amount"])
    assert delivered == int(case["verdict"]["quote"]["net_amount"])
    assert bsc.token_balance(usdt, wallet) - before == delivered


def test_an_address_without_code_raises_no_flag(paying_desk: tuple[Desk, PayoutEngine]) -> None:
    desk, _ = paying_desk
    case = desk.quoted_case(wei=10**18, sender_index=6)
    assert "refund_address_is_contract" not in case["verdict"]["review_flags"]
    assert case["facts"]["refund_address_is_contract"] is False
