"""Filing, reading, listing, following and withdrawing appeals through the API."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from recovery.api.context import AppContext
from tests.recovery.api.builders import DEPOSIT, OTHER_DEPOSIT, REFUND, TX, appeal_body


def count_cases(context: AppContext) -> int:
    from sqlalchemy import func, select

    from recovery.db.tables import CaseEventRow, CaseRow

    with context.database.unit_of_work() as session:
        cases = session.scalar(select(func.count()).select_from(CaseRow))
        events = session.scalar(select(func.count()).select_from(CaseEventRow))
    assert cases is not None
    assert events is not None
    return cases + events


def test_filing_returns_the_case_with_a_reference(
    client: TestClient, alice: dict[str, str]
) -> None:
    response = client.post("/v1/appeals", json=appeal_body(), headers=alice)
    assert response.status_code == 201, response.text
    case = response.json()
    assert case["status"] == "submitted"
    assert case["reference"].startswith("RC-")
    assert case["deposit_address"] == DEPOSIT
    assert case["network"] == "bsc"
    assert case["opened_for"] == "ethereum"
    assert case["policy_version"]
    read = client.get(f"/v1/appeals/{case['id']}", headers=alice)
    assert read.status_code == 200
    assert read.json() == case


def test_filing_records_the_first_event(client: TestClient, alice: dict[str, str]) -> None:
    case = client.post("/v1/appeals", json=appeal_body(), headers=alice).json()
    events = client.get(f"/v1/appeals/{case['id']}/events", headers=alice).json()["items"]
    assert [(e["from_status"], e["to_status"], e["actor"]) for e in events] == [
        (None, "submitted", "user:alice")
    ]


def test_lowercase_input_is_stored_checksummed(client: TestClient, alice: dict[str, str]) -> None:
    body = appeal_body(deposit_address=DEPOSIT.lower(), tx_hash=TX.upper().replace("0X", "0x"))
    response = client.post("/v1/appeals", json=body, headers=alice)
    assert response.status_code == 201, response.text
    assert response.json()["deposit_address"] == DEPOSIT
    assert response.json()["tx_hash"] == TX


def test_same_idempotency_key_and_body_give_the_same_case(
    client: TestClient, alice: dict[str, str], context: AppContext
) -> None:
    headers = {**alice, "Idempotency-Key": "k-1"}
    first = client.post("/v1/appeals", json=appeal_body(), headers=headers)
    again = client.post("/v1/appeals", json=appeal_body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count_cases(context) == 2  # one case, one event


def test_same_idempotency_key_with_another_body_is_refused(
    client: TestClient, alice: dict[str, str], context: AppContext
) -> None:
    headers = {**alice, "Idempotency-Key": "k-1"}
    assert client.post("/v1/appeals", json=appeal_body(), headers=headers).status_code == 201
    other = client.post("/v1/appeals", json=appeal_body(tx_hash="0x" + "cd" * 32), headers=headers)
    assert other.status_code == 422
    assert other.json()["error"] == "IdempotencyKeyReused"
    assert count_cases(context) == 2


def test_second_claim_on_the_same_transfer_is_a_conflict(
    client: TestClient, alice: dict[str, str], context: AppContext
) -> None:
    assert client.post("/v1/appeals", json=appeal_body(), headers=alice).status_code == 201
    # The same transfer written differently (lowercase address) is still the same transfer.
    again = client.post(
        "/v1/appeals", json=appeal_body(deposit_address=DEPOSIT.lower()), headers=alice
    )
    assert again.status_code == 409
    assert again.json()["error"] == "DuplicateClaim"
    assert again.json()["reason_code"] == "duplicate_claim"
    assert "your case RC-000001" in again.json()["detail"]
    assert count_cases(context) == 2


def test_cancelled_case_releases_its_transfer(client: TestClient, alice: dict[str, str]) -> None:
    case = client.post("/v1/appeals", json=appeal_body(), headers=alice).json()
    cancelled = client.post(f"/v1/appeals/{case['id']}/cancel", headers=alice)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert client.post("/v1/appeals", json=appeal_body(), headers=alice).status_code == 201


def test_cancelling_twice_is_a_conflict_naming_the_state(
    client: TestClient, alice: dict[str, str]
) -> None:
    case = client.post("/v1/appeals", json=appeal_body(), headers=alice).json()
    client.post(f"/v1/appeals/{case['id']}/cancel", headers=alice)
    again = client.post(f"/v1/appeals/{case['id']}/cancel", headers=alice)
    assert again.status_code == 409
    assert again.json()["error"] == "InvalidTransition"
    assert "is cancelled" in again.json()["detail"]


def test_another_users_case_is_invisible(
    client: TestClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    case = client.post("/v1/appeals", json=appeal_body(), headers=alice).json()
    for method, path in [
        ("GET", f"/v1/appeals/{case['id']}"),
        ("GET", f"/v1/appeals/{case['id']}/events"),
        ("POST", f"/v1/appeals/{case['id']}/cancel"),
    ]:
        response = client.request(method, path, headers=bob)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"] == "CaseNotFound"
    assert client.get("/v1/appeals", headers=bob).json()["items"] == []
    assert client.get(f"/v1/appeals/{case['id']}", headers=alice).json()["status"] == "submitted"


def test_appeal_on_someone_elses_deposit_address_is_refused(
    client: TestClient, alice: dict[str, str], bob: dict[str, str], context: AppContext
) -> None:
    response = client.post(
        "/v1/appeals", json=appeal_body(deposit_address=OTHER_DEPOSIT), headers=alice
    )
    # Not shown to alice: the same answer as for an address nobody registered.
    assert response.status_code == 404
    assert response.json()["reason_code"] == "address_not_claimants"
    assert "bob" not in response.json()["detail"]
    assert count_cases(context) == 0


def test_address_not_opened_for_the_named_network_is_refused(
    client: TestClient, alice: dict[str, str]
) -> None:
    response = client.post(
        "/v1/appeals", json=appeal_body(network="ethereum", opened_for="bsc"), headers=alice
    )
    assert response.status_code == 422
    assert response.json()["reason_code"] == "not_our_deposit_address"
    assert "opened for: ethereum" in response.json()["detail"]


def test_list_pages_with_a_cursor_and_filters(client: TestClient, alice: dict[str, str]) -> None:
    ids = []
    for n in range(5):
        body = appeal_body(tx_hash="0x" + f"{n:02x}" * 32)
        ids.append(client.post("/v1/appeals", json=body, headers=alice).json()["id"])
    client.post(f"/v1/appeals/{ids[0]}/cancel", headers=alice)
    first = client.get("/v1/appeals", params={"limit": 2}, headers=alice).json()
    second = client.get(
        "/v1/appeals", params={"limit": 2, "cursor": first["next_cursor"]}, headers=alice
    ).json()
    third = client.get(
        "/v1/appeals", params={"limit": 2, "cursor": second["next_cursor"]}, headers=alice
    ).json()
    seen = [c["id"] for page in (first, second, third) for c in page["items"]]
    assert seen == list(reversed(ids))
    assert third["next_cursor"] is None
    cancelled = client.get("/v1/appeals", params={"status": "cancelled"}, headers=alice).json()
    assert [c["id"] for c in cancelled["items"]] == [ids[0]]
    unlisted = client.get(
        "/v1/appeals", params={"case_type": "unlisted_token"}, headers=alice
    ).json()
    assert unlisted["items"] == []


def test_a_cursor_beyond_any_case_number_is_a_422(
    client: TestClient, alice: dict[str, str]
) -> None:
    huge = base64.urlsafe_b64encode(b"n:" + b"9" * 30).decode().rstrip("=")
    response = client.get("/v1/appeals", params={"cursor": huge}, headers=alice)
    assert response.status_code == 422
    assert "next_cursor" in response.json()["detail"]


def test_a_forged_cursor_is_a_422(client: TestClient, alice: dict[str, str]) -> None:
    response = client.get("/v1/appeals", params={"cursor": "not-ours"}, headers=alice)
    assert response.status_code == 422
    assert "next_cursor" in response.json()["detail"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}],
    ids=["missing", "unknown", "wrong-scheme"],
)
def test_every_v1_route_needs_a_key(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get("/v1/appeals", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "Unauthorized"
    filed = client.post("/v1/appeals", json=appeal_body(), headers=headers)
    assert filed.status_code == 401


def test_users_cannot_register_deposit_addresses(client: TestClient, alice: dict[str, str]) -> None:
    response = client.post(
        "/v1/deposit-addresses",
        json={"address": REFUND, "owner": "alice", "networks": ["bsc"]},
        headers=alice,
    )
    assert response.status_code == 403
    assert "admin" in response.json()["detail"]


def test_health_probes_are_public(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
