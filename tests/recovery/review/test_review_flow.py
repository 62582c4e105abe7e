"""Quote acceptance, proof of ownership and the appeals team's decisions, on real devnets."""

from __future__ import annotations

import threading
from decimal import Decimal

from sqlalchemy import func, select

from recovery.api.context import AppContext
from recovery.db.tables import PayoutRow
from recovery.review.expiry import expire_cycle
from tests.recovery.review.conftest import Desk


def payouts(context: AppContext) -> int:
    with context.database.unit_of_work() as session:
        count = session.scalar(select(func.count()).select_from(PayoutRow))
    assert count is not None
    return count


def test_accept_then_one_reviewer_approves_and_the_payout_is_frozen(
    desk: Desk, context: AppContext
) -> None:
    case = desk.quoted_case()
    quote = case["verdict"]["quote"]
    assert quote["id"].startswith("q_")
    assert case["deadline_at"] is not None
    in_review = desk.accept(case)
    assert in_review["status"] == "in_review"
    queue = desk.client.get("/v1/review/queue", headers=desk.rita).json()["items"]
    assert [c["id"] for c in queue] == [case["id"]]
    claimed = desk.client.post(f"/v1/review/{case['id']}/claim", headers=desk.rita)
    assert claimed.status_code == 200
    taken = desk.client.post(f"/v1/review/{case['id']}/claim", headers=desk.rob)
    assert taken.status_code == 409
    assert "being reviewed by rita" in taken.json()["detail"]
    approved = desk.client.post(f"/v1/review/{case['id']}/approve", headers=desk.rita)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    with context.database.unit_of_work() as session:
        payout = session.scalars(select(PayoutRow)).one()
    assert payout.amount == int(quote["net_amount"])
    assert payout.fee_amount == int(quote["fee_amount"])
    assert payout.amount + payout.fee_amount == 10**18
    events = [e["to_status"] for e in desk.events(case)]
    assert events[-3:] == ["quoted", "in_review", "approved"]
    assert quote["id"] in desk.events(case)[-2]["detail"]


def test_an_expired_quote_is_refused_and_a_new_one_can_be_asked_for(desk: Desk) -> None:
    case = desk.quoted_case()
    old = case["verdict"]["quote"]["id"]
    desk.clock.advance(days=2)
    late = desk.client.post(
        f"/v1/appeals/{case['id']}/accept", json={"quote_id": old}, headers=desk.alice
    )
    assert late.status_code == 409
    assert late.json()["error"] == "QuoteExpired"
    assert "requote" in late.json()["detail"]
    assert expire_cycle(desk.checker.database, desk.clock) == 1
    assert desk.read(case)["status"] == "expired"
    renewed = desk.client.post(f"/v1/appeals/{case['id']}/requote", headers=desk.alice)
    assert renewed.status_code == 200, renewed.text
    fresh = renewed.json()
    assert fresh["status"] == "quoted"
    assert fresh["verdict"]["quote"]["id"] != old
    superseded = desk.client.post(
        f"/v1/appeals/{case['id']}/accept", json={"quote_id": old}, headers=desk.alice
    )
    assert superseded.status_code == 409
    assert superseded.json()["error"] == "QuoteSuperseded"
    assert desk.accept(fresh)["status"] == "in_review"


def test_approval_without_required_proof_is_refused_then_proof_unlocks_it(
    desk: Desk, context: AppContext
) -> None:
    refund = "0x6666666666666666666666666666666666666666"
    case = desk.accept(desk.quoted_case(sender_index=9, refund=refund))
    refused = desk.client.post(f"/v1/review/{case['id']}/approve", headers=desk.rita)
    assert refused.status_code == 409
    assert refused.json()["reason_code"] == "ownership_not_proven"
    assert "refund address" in refused.json()["detail"]
    assert payouts(context) == 0
    wrong = desk.prove(case, key_index=7)
    assert wrong.status_code == 422
    assert "signed by 0x" in wrong.json()["detail"]
    assert desk.read(case)["ownership_proven"] is False
    right = desk.prove(case, key_index=9)
    assert right.status_code == 200, right.text
    assert right.json()["ownership_proven"] is True
    approved = desk.client.post(f"/v1/review/{case['id']}/approve", headers=desk.rita)
    assert approved.status_code == 200, approved.text
    assert payouts(context) == 1


def test_a_malformed_signature_is_a_422(desk: Desk) -> None:
    case = desk.quoted_case()
    desk.client.get(f"/v1/appeals/{case['id']}/challenge", headers=desk.alice)
    bad = desk.client.post(
        f"/v1/appeals/{case['id']}/proof", json={"signature": "0x" + "00" * 65}, headers=desk.alice
    )
    assert bad.status_code == 422
    assert "EIP-191" in bad.json()["detail"]


def test_large_case_needs_two_different_reviewers(desk: Desk, context: AppContext) -> None:
    case = desk.quoted_case(wei=20 * 10**18, sender_index=6)  # 12,000 USD at 600 USD/BNB
    assert case["verdict"]["needs_second_approval"] is True
    assert desk.prove(case, key_index=6).status_code == 200
    desk.accept(case)
    first = desk.client.post(f"/v1/review/{case['id']}/approve", headers=desk.rita)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "in_review"
    again = desk.client.post(f"/v1/review/{case['id']}/approve", headers=desk.rita)
    assert again.status_code == 409
    assert again.json()["error"] == "AlreadyApproved"
    assert payouts(context) == 0
    second = desk.client.post(f"/v1/review/{case['id']}/approve", headers=desk.rob)
    assert second.status_code == 200, second.text
    assert second.json()["status"] == "approved"
    assert payouts(context) == 1


def test_concurrent_approvals_by_two_reviewers_give_one_payout(
    desk: Desk, context: AppContext
) -> None:
    case = desk.accept(desk.quoted_case())
    statuses: list[int] = []
    start = threading.Barrier(2)

    def approve(headers: dict[str, str]) -> None:
        start.wait(timeout=10)
        response = desk.client.post(f"/v1/review/{case['id']}/approve", headers=headers)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=approve, args=(h,)) for h in (desk.rita, desk.rob)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [200, 409]
    assert desk.read(case)["status"] == "approved"
    assert payouts(context) == 1


def test_a_reviewer_cannot_review_their_own_case(desk: Desk, auth) -> None:  # type: ignore[no-untyped-def]
    case = desk.accept(desk.quoted_case())
    from recovery.access.keys import Role

    alice_reviewer = auth("alice", Role.REVIEWER)
    response = desk.client.post(f"/v1/review/{case['id']}/approve", headers=alice_reviewer)
    assert response.status_code == 403
    assert "filed by you" in response.json()["detail"]


def test_users_cannot_use_the_review_api(desk: Desk) -> None:
    case = desk.accept(desk.quoted_case())
    assert desk.client.get("/v1/review/queue", headers=desk.alice).status_code == 403
    response = desk.client.post(f"/v1/review/{case['id']}/approve", headers=desk.alice)
    assert response.status_code == 403


def test_reject_carries_a_reason_code_and_a_note_the_user_reads(desk: Desk) -> None:
    case = desk.accept(desk.quoted_case())
    unknown = desk.client.post(
        f"/v1/review/{case['id']}/reject",
        json={"reason_code": "because", "note": "no"},
        headers=desk.rita,
    )
    assert unknown.status_code == 422
    assert "reviewer_rejected" in unknown.json()["detail"]
    rejected = desk.client.post(
        f"/v1/review/{case['id']}/reject",
        json={"reason_code": "already_credited", "note": "credited on 2026-11-20 as deposit 991"},
        headers=desk.rita,
    )
    assert rejected.status_code == 200
    last = desk.events(case)[-1]
    assert (last["to_status"], last["reason_code"]) == ("rejected", "already_credited")
    assert last["detail"] == "credited on 2026-11-20 as deposit 991"


def test_request_info_then_answer_sends_the_case_back_to_verification(desk: Desk) -> None:
    case = desk.accept(desk.quoted_case())
    asked = desk.client.post(
        f"/v1/review/{case['id']}/request-info",
        json={"question": "Which wallet did you send from?"},
        headers=desk.rita,
    )
    assert asked.status_code == 200
    seen = desk.read(case)
    assert seen["status"] == "needs_info"
    assert seen["question"] == "Which wallet did you send from?"
    answered = desk.client.post(
        f"/v1/appeals/{case['id']}/info", json={"answer": "My own hot wallet"}, headers=desk.alice
    )
    assert answered.status_code == 200
    assert answered.json()["status"] == "verifying"
    desk.checker.verify_cycle()
    assert desk.read(case)["status"] == "confirming"


def test_an_unanswered_question_expires(desk: Desk) -> None:
    case = desk.accept(desk.quoted_case())
    desk.client.post(
        f"/v1/review/{case['id']}/request-info", json={"question": "Why?"}, headers=desk.rita
    )
    desk.clock.advance(days=15)
    assert expire_cycle(desk.checker.database, desk.clock) == 1
    assert desk.read(case)["status"] == "expired"
    assert desk.events(case)[-1]["reason_code"] == "info_expired"
    refused = desk.client.post(f"/v1/appeals/{case['id']}/requote", headers=desk.alice)
    assert refused.status_code == 409


def test_a_reviewers_hold_lapses_if_they_leave_the_case_undecided(desk: Desk) -> None:
    case = desk.accept(desk.quoted_case())
    assert desk.client.post(f"/v1/review/{case['id']}/claim", headers=desk.rita).status_code == 200
    held = desk.client.post(f"/v1/review/{case['id']}/claim", headers=desk.rob)
    assert held.status_code == 409
    assert "until" in held.json()["detail"]
    desk.clock.advance(minutes=31)
    taken = desk.client.post(f"/v1/review/{case['id']}/approve", headers=desk.rob)
    assert taken.status_code == 200, taken.text
    assert taken.json()["status"] == "approved"


def test_renewing_an_expired_quote_whose_transfer_another_case_holds_is_a_conflict(
    desk: Desk,
) -> None:
    case = desk.quoted_case()
    desk.clock.advance(days=2)
    assert expire_cycle(desk.checker.database, desk.clock) == 1
    assert desk.read(case)["status"] == "expired"
    # The expired case let its transfer go: the user files it again as a new case.
    body = {
        k: case[k]
        for k in ("case_type", "network", "opened_for", "tx_hash", "token", "deposit_address")
    }
    again = desk.client.post(
        "/v1/appeals", json={**body, "refund_address": case["refund_address"]}, headers=desk.alice
    )
    assert again.status_code == 201, again.text
    renewed = desk.client.post(f"/v1/appeals/{case['id']}/requote", headers=desk.alice)
    assert renewed.status_code == 409, renewed.text
    assert renewed.json()["reason_code"] == "duplicate_claim"
    assert "held by another live case" in renewed.json()["detail"]
    assert desk.read(case)["status"] == "expired", "nothing half-written"


def test_the_queue_is_walked_page_by_page_with_value_bands_in_the_query(desk: Desk) -> None:
    cases = [desk.accept(desk.quoted_case(wei=n * 10**18)) for n in (1, 2, 3, 4, 5)]
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = desk.client.get("/v1/review/queue", params=params, headers=desk.rita).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [c["id"] for c in cases], "oldest first, each case once"
    values = sorted(Decimal(c["verdict"]["value"]) for c in cases)
    banded = desk.client.get(
        "/v1/review/queue",
        params={"min_value": str(values[1]), "max_value": str(values[3])},
        headers=desk.rita,
    ).json()["items"]
    assert sorted(Decimal(c["verdict"]["value"]) for c in banded) == values[1:4]
    network = cases[0]["network"]
    for params, expected in [
        ({"network": network}, len(cases)),
        ({"network": "polygon" if network != "polygon" else "bsc"}, 0),
        ({"case_type": cases[0]["case_type"], "network": network}, len(cases)),
        ({"older_than_minutes": 525_600}, 0),
        ({"network": "", "case_type": ""}, len(cases)),  # an empty filter is no filter
    ]:
        items = desk.client.get("/v1/review/queue", params=params, headers=desk.rita).json()
        assert len(items["items"]) == expected, params
    # A queue item is the case as GET shows it.
    first = desk.client.get("/v1/review/queue", params={"limit": 1}, headers=desk.rita).json()
    (item,) = first["items"]
    assert item == desk.client.get(f"/v1/appeals/{item['id']}", headers=desk.rita).json()
    bad = desk.client.get(
        "/v1/review/queue", params={"cursor": "q1_99999999999"}, headers=desk.rita
    )
    assert bad.status_code == 422
    # A bound beyond any case's value: a minimum there matches nothing, a maximum nothing.
    huge = desk.client.get(
        "/v1/review/queue", params={"min_value": "99999999999999"}, headers=desk.rita
    )
    assert (huge.status_code, huge.json()["items"]) == (200, [])
    unbounded = desk.client.get(
        "/v1/review/queue", params={"max_value": "99999999999999"}, headers=desk.rita
    )
    assert len(unbounded.json()["items"]) == len(cases)
