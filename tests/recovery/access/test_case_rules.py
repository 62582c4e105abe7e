"""Who may do what to a case: every action x every caller, through the REST API on devnets.

The callers: the claimant (alice, user key), another user (bob), a reviewer (rita), an
admin (ops), and a reviewer whose subject is the claimant's (alice with a reviewer key:
the reviewer who filed the case). Exactly the cells the table allows succeed; every other
cell is refused (404 for another user, 403 with a reason code for the rest) and leaves
the case as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account.messages import encode_defunct
from httpx import Response

from recovery.access.case_rules import ALLOWED, CaseAction, Relation, allowed
from recovery.access.keys import Role
from tests.recovery.review.conftest import Desk, dev_key

CLAIMANT, OTHER_USER, REVIEWER, ADMIN, FILER_REVIEWER = (
    "claimant",
    "other user",
    "reviewer",
    "admin",
    "reviewer who filed it",
)
CALLERS = (CLAIMANT, OTHER_USER, REVIEWER, ADMIN, FILER_REVIEWER)

# Written out by hand, not derived from the table: the table must match it.
EXPECTED: dict[CaseAction, set[str]] = {
    CaseAction.READ: {CLAIMANT, REVIEWER, ADMIN, FILER_REVIEWER},
    CaseAction.ACCEPT: {CLAIMANT},
    CaseAction.REQUOTE: {CLAIMANT},
    CaseAction.CANCEL: {CLAIMANT},
    CaseAction.ANSWER: {CLAIMANT},
    CaseAction.CHALLENGE: {CLAIMANT},
    CaseAction.PROVE: {CLAIMANT},
    CaseAction.VERIFICATION_CODE: {CLAIMANT},
    CaseAction.CLAIM: {REVIEWER, ADMIN},
    CaseAction.APPROVE: {REVIEWER, ADMIN},
    CaseAction.REJECT: {REVIEWER, ADMIN},
    CaseAction.ASK: {REVIEWER, ADMIN},
    CaseAction.RECHECK: {REVIEWER, ADMIN},
    CaseAction.RESOLVE_PAYOUT: {ADMIN},
}

AS_CELL = {
    CLAIMANT: (Role.USER, Relation.CLAIMANT),
    OTHER_USER: (Role.USER, Relation.OTHER),
    REVIEWER: (Role.REVIEWER, Relation.OTHER),
    ADMIN: (Role.ADMIN, Relation.OTHER),
    FILER_REVIEWER: (Role.REVIEWER, Relation.CLAIMANT),
}


def test_the_table_is_the_expected_matrix_and_covers_every_action() -> None:
    assert set(ALLOWED) == set(CaseAction)
    for action in CaseAction:
        for caller in CALLERS:
            role, rel = AS_CELL[caller]
            assert allowed(action, role, rel) == (caller in EXPECTED[action]), (action, caller)
    # An admin whose subject filed the case decides nothing about it either.
    for action in CaseAction:
        if action is not CaseAction.READ:
            assert not allowed(action, Role.ADMIN, Relation.CLAIMANT), action


@dataclass
class Cell:
    """How to bring a case to where `action` applies, and how to call it."""

    setup: Callable[[Desk], dict[str, Any]]
    call: Callable[[Desk, dict[str, Any], dict[str, str]], Response]


def _quoted(desk: Desk) -> dict[str, Any]:
    return desk.quoted_case()


def _in_review(desk: Desk) -> dict[str, Any]:
    return desk.accept(desk.quoted_case())


def _needs_info(desk: Desk) -> dict[str, Any]:
    case = _in_review(desk)
    asked = desk.client.post(
        f"/v1/review/{case['id']}/request-info",
        json={"question": "Which wallet did you send from?"},
        headers=desk.rita,
    )
    assert asked.status_code == 200, asked.text
    return asked.json()  # type: ignore[no-any-return]


def _with_challenge(desk: Desk) -> dict[str, Any]:
    case = desk.quoted_case()
    challenge = desk.client.get(f"/v1/appeals/{case['id']}/challenge", headers=desk.alice)
    assert challenge.status_code == 200, challenge.text
    return {**case, "challenge": challenge.json()["message"]}


def _post(path: str, body: dict[str, Any] | None = None) -> Any:
    def call(desk: Desk, case: dict[str, Any], headers: dict[str, str]) -> Response:
        return desk.client.post(path.format(id=case["id"]), json=body, headers=headers)

    return call


def _read(desk: Desk, case: dict[str, Any], headers: dict[str, str]) -> Response:
    events = desk.client.get(f"/v1/appeals/{case['id']}/events", headers=headers)
    read = desk.client.get(f"/v1/appeals/{case['id']}", headers=headers)
    assert events.status_code == read.status_code, (events.text, read.text)
    return read


def _accept(desk: Desk, case: dict[str, Any], headers: dict[str, str]) -> Response:
    quote_id = case["verdict"]["quote"]["id"]
    return desk.client.post(
        f"/v1/appeals/{case['id']}/accept", json={"quote_id": quote_id}, headers=headers
    )


def _challenge(desk: Desk, case: dict[str, Any], headers: dict[str, str]) -> Response:
    return desk.client.get(f"/v1/appeals/{case['id']}/challenge", headers=headers)


def _verification_code(desk: Desk, case: dict[str, Any], headers: dict[str, str]) -> Response:
    return desk.client.get(f"/v1/appeals/{case['id']}/verification-code", headers=headers)


def _prove(desk: Desk, case: dict[str, Any], headers: dict[str, str]) -> Response:
    signed = dev_key(8).sign_message(encode_defunct(text=case["challenge"]))
    return desk.client.post(
        f"/v1/appeals/{case['id']}/proof",
        json={"signature": signed.signature.to_0x_hex()},
        headers=headers,
    )


CELLS: dict[CaseAction, Cell] = {
    CaseAction.READ: Cell(_quoted, _read),
    CaseAction.ACCEPT: Cell(_quoted, _accept),
    CaseAction.REQUOTE: Cell(_quoted, _post("/v1/appeals/{id}/requote")),
    CaseAction.CANCEL: Cell(_quoted, _post("/v1/appeals/{id}/cancel")),
    CaseAction.ANSWER: Cell(_needs_info, _post("/v1/appeals/{id}/info", {"answer": "MetaMask"})),
    CaseAction.CHALLENGE: Cell(_quoted, _challenge),
    CaseAction.PROVE: Cell(_with_challenge, _prove),
    CaseAction.VERIFICATION_CODE: Cell(_quoted, _verification_code),
    CaseAction.CLAIM: Cell(_in_review, _post("/v1/review/{id}/claim")),
    CaseAction.APPROVE: Cell(_in_review, _post("/v1/review/{id}/approve")),
    CaseAction.REJECT: Cell(
        _in_review,
        _post("/v1/review/{id}/reject", {"reason_code": "reviewer_rejected", "note": "no"}),
    ),
    CaseAction.ASK: Cell(_in_review, _post("/v1/review/{id}/request-info", {"question": "Why?"})),
    CaseAction.RECHECK: Cell(_in_review, _post("/v1/review/{id}/recheck")),
    CaseAction.RESOLVE_PAYOUT: Cell(
        _in_review,
        _post("/v1/admin/payouts/{id}/resolve", {"resolution": "paid", "note": "seen on chain"}),
    ),
}

REFUSAL_CODES = {"case_not_found", "claimant_only", "desk_only", "own_case", "admin_only"}


def _headers(desk: Desk, auth: Any, caller: str) -> dict[str, str]:
    return {
        CLAIMANT: desk.alice,
        OTHER_USER: auth("bob"),
        REVIEWER: desk.rita,
        ADMIN: auth("ops", Role.ADMIN),
        FILER_REVIEWER: auth("alice", Role.REVIEWER),
    }[caller]


def _state(desk: Desk, case: dict[str, Any]) -> tuple[str, int, list[str]]:
    stored = desk.read(case)
    return stored["status"], len(desk.events(case)), stored.get("approvals", [])


@pytest.mark.parametrize("action", list(CaseAction), ids=str)
def test_exactly_the_allowed_callers_may_do_each_action(
    desk: Desk, auth: Any, action: CaseAction
) -> None:
    cell = CELLS[action]
    refused = [c for c in CALLERS if c not in EXPECTED[action]]
    case = cell.setup(desk)
    before = _state(desk, case)
    for caller in refused:
        response = cell.call(desk, case, _headers(desk, auth, caller))
        assert response.status_code == (404 if caller == OTHER_USER else 403), (
            caller,
            response.text,
        )
        assert response.json()["reason_code"] in REFUSAL_CODES, (caller, response.text)
        assert _state(desk, case) == before, caller
    for caller in EXPECTED[action]:
        fresh = cell.setup(desk)
        response = cell.call(desk, fresh, _headers(desk, auth, caller))
        if action is CaseAction.RESOLVE_PAYOUT:
            # Past the access check, the state decides: an in-review case has no payout
            # to settle (the operator tests settle real quarantined payouts).
            assert response.status_code == 409, response.text
            assert response.json()["error"] == "InvalidTransition", response.text
            continue
        assert 200 <= response.status_code < 300, (caller, response.text)


def test_a_reviewer_accepting_for_the_user_is_told_why_and_nothing_moves(desk: Desk) -> None:
    case = desk.quoted_case()
    response = _accept(desk, case, desk.rita)
    assert response.status_code == 403
    body = response.json()
    assert body["reason_code"] == "claimant_only"
    assert "only the claimant" in body["detail"]
    assert "accept its quote" in body["detail"]
    assert desk.read(case)["status"] == "quoted"


def test_staff_keys_cannot_file_an_appeal(desk: Desk, auth: Any) -> None:
    body = {
        "case_type": "wrong_network",
        "network": "bsc",
        "opened_for": "ethereum",
        "tx_hash": "0x" + "ab" * 32,
        "token": "native",
        "deposit_address": desk.deposit,
        "refund_address": "0x6666666666666666666666666666666666666666",
    }
    for headers in (auth("ops", Role.ADMIN), desk.rita):
        response = desk.client.post("/v1/appeals", json=body, headers=headers)
        assert response.status_code == 403, response.text
        assert response.json()["reason_code"] == "claimant_only"
