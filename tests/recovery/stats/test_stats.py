"""GET /v1/stats (public outcomes) and GET /v1/stats/topics (what users write about)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from recovery.access.keys import Role
from recovery.api.app import create_app
from recovery.api.context import AppContext
from recovery.payouts.engine import PayoutEngine
from recovery.stats.outcomes import outcomes
from tests.recovery.payouts.test_payout_flow import approve, run_until_paid
from tests.recovery.review.conftest import Desk


def _group(window: dict[str, Any], network: str, case_type: str) -> dict[str, Any]:
    (found,) = [
        g for g in window["groups"] if (g["network"], g["case_type"]) == (network, case_type)
    ]
    return found


def test_outcomes_count_filed_paid_and_rejected_cases_per_window(
    paying_desk: tuple[Desk, PayoutEngine], context: AppContext
) -> None:
    desk, engine = paying_desk
    clock = desk.clock
    paid = desk.quoted_case(wei=10**18, sender_index=5)
    bsc = desk.devnet.chain("bsc")
    refund = paid["refund_address"]
    approve(desk, paid, 5)
    before = bsc.native_balance(refund)
    run_until_paid(desk, engine, clock, "bsc")
    settled = desk.read(paid)
    assert settled["status"] == "paid"
    # What the case says arrived is what the refund address's balance shows on chain.
    assert bsc.native_balance(refund) - before == int(settled["delivered_amount"])
    refused = desk.accept(desk.quoted_case(wei=10**18, sender_index=6))
    response = desk.client.post(
        f"/v1/review/{refused['id']}/reject",
        json={"reason_code": "already_credited", "note": "credited as deposit 991"},
        headers=desk.rita,
    )
    assert response.status_code == 200, response.text
    # Forty days on, one more is filed: the first two count only in the 365-day window.
    clock.advance(days=40)
    desk.quoted_case(wei=2 * 10**18, sender_index=7)

    with context.database.unit_of_work() as session:
        figures = outcomes(session, clock())
    month, year = figures["windows"]
    assert (month["days"], year["days"]) == (30, 365)
    recent = _group(month, "bsc", "wrong_network")
    assert (recent["filed"], recent["paid"], recent["rejected"]) == (1, 0, {})
    assert recent["median_seconds_to_paid"] is None
    whole = _group(year, "bsc", "wrong_network")
    assert (whole["filed"], whole["paid"], whole["rejected"]) == (3, 1, {"already_credited": 1})
    assert whole["median_seconds_to_paid"] == whole["p90_seconds_to_paid"] > 0

    public = desk.client.get("/v1/stats")  # no key: public
    assert public.status_code == 200, public.text
    assert _group(public.json()["windows"][1], "bsc", "wrong_network")["paid"] == 1


def test_topics_show_where_users_go_wrong_per_week_and_language(
    context: AppContext, auth: Any
) -> None:
    alice, rita = auth("alice"), auth("rita-t", Role.REVIEWER)
    texts = [
        "I sent 20 usdt via bep20 to my erc20 address",
        "sent 5 USDT over BSC to my ERC20 deposit address by mistake",
        "我用BSC网络转了1,000 usdt到我的ERC20充值地址",
        "hello?",
    ]
    with TestClient(create_app(context)) as client:
        for text in texts:
            assert client.post("/v1/triage", json={"text": text}, headers=alice).status_code == 200
        response = client.get("/v1/stats/topics", headers=rita)
        refused = client.get("/v1/stats/topics", headers=alice)
    assert response.status_code == 200, response.text
    assert refused.status_code == 403
    rows = {row["language"]: row for row in response.json()["items"]}
    assert rows["en"]["descriptions"] == 3
    assert rows["en"]["pairs"] == [{"value": "bsc -> ethereum", "count": 2}]
    assert {"value": "unclear", "count": 1} in rows["en"]["outcomes"]
    assert rows["zh"]["tokens"] == [{"value": "USDT", "count": 1}]
    assert rows["en"]["week"] == rows["zh"]["week"] == "2026-W48"
