"""A deposit address holding code (a contract, an EIP-7702 delegation) on the network the
transfer went over is never paid without a reviewer who says they saw it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from recovery.api.context import AppContext
from recovery.db.tables import PayoutRow
from recovery.payouts.engine import PayoutEngine
from tests.recovery.review.conftest import Desk

WALLET_CODE_AT = "0x7070707070707070707070707070707070707070"


def payouts(context: AppContext) -> int:
    with context.database.unit_of_work() as session:
        count = session.scalar(select(func.count()).select_from(PayoutRow))
    assert count is not None
    return count


@pytest.mark.parametrize("code", ["contract", "delegation"])
def test_a_deposit_address_with_code_waits_for_a_reviewer_who_acknowledges_it(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext, code: str
) -> None:
    desk, engine = paying_desk
    bsc = desk.devnet.chain("bsc")
    if code == "contract":
        bsc.place_contract_at(desk.deposit)
        named = "holds contract code on bsc"
    else:
        wallet = bsc.place_contract_at(WALLET_CODE_AT)
        bsc.delegate(desk.deposit, wallet)
        named = f"carries an EIP-7702 delegation to {wallet} on bsc"
    try:
        case = desk.quoted_case()
        assert case["facts"]["deposit_address_code"] == code
        verdict = case["verdict"]
        # bsc -> ethereum is a direct pair; code at the address makes it conditional.
        assert verdict["network_class"] == "conditional"
        assert verdict["eligible"] is True
        assert verdict["review_flags"] == ["deposit_address_has_code"]
        flagged = {c["id"]: c for c in verdict["conditions"]}["deposit_address_has_code"]
        assert flagged["status"] == "pending"
        assert named in flagged["detail"]

        desk.accept(case)
        engine.payout_cycle()
        assert desk.read(case)["status"] == "in_review"
        refused = desk.client.post(f"/v1/review/{case['id']}/approve", headers=desk.rita)
        assert refused.status_code == 409
        assert refused.json()["error"] == "ReviewFlagNotAcknowledged"
        assert "deposit_address_has_code" in refused.json()["detail"]
        assert named in refused.json()["detail"]
        engine.payout_cycle()
        assert desk.read(case)["status"] == "in_review"
        assert payouts(context) == 0

        approved = desk.client.post(
            f"/v1/review/{case['id']}/approve",
            json={"acknowledge": ["deposit_address_has_code"]},
            headers=desk.rita,
        )
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "approved"
        assert "acknowledged: deposit_address_has_code" in desk.staff_notes(case)[-1]["detail"]
        assert payouts(context) == 1
    finally:
        bsc.clear_code(desk.deposit)


def test_an_acknowledgement_is_not_needed_where_there_is_no_code(
    paying_desk: tuple[Desk, PayoutEngine],
) -> None:
    desk, _ = paying_desk
    case = desk.quoted_case()
    assert case["verdict"]["review_flags"] == []
    assert case["facts"]["deposit_address_code"] == "none"
    desk.accept(case)
    approved = desk.client.post(f"/v1/review/{case['id']}/approve", headers=desk.rita)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
