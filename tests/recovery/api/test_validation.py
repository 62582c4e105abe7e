"""Bad input gets a 422 (413 for an oversize body) saying what is wrong; nothing is written."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from recovery.api.context import AppContext
from tests.recovery.api.builders import DEPOSIT, appeal_body
from tests.recovery.api.test_appeals import count_cases

WRONG_CHECKSUM = DEPOSIT[:-1] + ("c" if DEPOSIT[-1] != "c" else "d")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"tx_hash": "0x1234"}, "tx_hash: '0x1234' is not an EVM transaction hash"),
        ({"tx_hash": "ab" * 32}, "is not an EVM transaction hash"),
        ({"tx_hash": "0x" + "zz" * 32}, "is not an EVM transaction hash"),
        ({"deposit_address": "0x1234"}, "deposit_address: '0x1234' is not an EVM address"),
        ({"refund_address": "bc1qxyz"}, "refund_address: 'bc1qxyz' is not an EVM address"),
        ({"deposit_address": WRONG_CHECKSUM}, "wrong EIP-55 checksum"),
        ({"token": "USDT"}, "token: 'USDT' is not an EVM address"),
        ({"network": "dogechain-x"}, "unknown network 'dogechain-x'; send one of the network"),
        ({"network": "BSC"}, "network: unknown network 'BSC'; send one of the network ids exactly"),
        ({"network": " bsc"}, "network: unknown network ' bsc'; send one of the network ids"),
        ({"opened_for": "Ethereum"}, "opened_for: unknown network 'Ethereum'; send one of"),
        ({"token": "NATIVE"}, "token: 'NATIVE' is not an EVM address"),
        ({"tx_hash": " 0x" + "ab" * 32}, "is not an EVM transaction hash"),
        ({"deposit_address": WRONG_CHECKSUM.lower() + "\n"}, "is not an EVM address"),
        (
            {"case_type": "unlisted_token", "network": "ethereum", "opened_for": "ethereum"},
            "opened_for: an unlisted_token appeal is about the network the address was opened",
        ),
        ({"opened_for": "nowhere"}, "opened_for: unknown network 'nowhere'"),
        ({"opened_for": None}, "must name the network the deposit address was opened for"),
        ({"opened_for": "bsc"}, "that is not a wrong-network case"),
        ({"claimed_amount": "1.5"}, "claimed_amount: String should match pattern"),
        ({"claimed_amount": "-3"}, "claimed_amount: String should match pattern"),
        ({"claimed_amount": "0"}, "claimed_amount: must be greater than zero"),
        ({"claimed_amount": 5}, "claimed_amount: Input should be a valid string"),
        ({"claimed_amount": "9" * 79}, "claimed_amount: String should have at most 78"),
        ({"case_type": "lost_key"}, "case_type: Input should be 'wrong_network'"),
        ({"tx_hash": "0x" + "a" * 200}, "tx_hash: String should have at most 128 characters"),
        ({"colour": "blue"}, "colour: unknown field; remove it"),
        ({"network": ""}, "network: String should have at least 1 character"),
    ],
    ids=lambda v: str(v)[:40] if isinstance(v, dict) else None,
)
def test_bad_appeal_is_a_422_that_says_what_is_wrong(
    client: TestClient,
    alice: dict[str, str],
    context: AppContext,
    overrides: dict[str, Any],
    expected: str,
) -> None:
    response = client.post("/v1/appeals", json=appeal_body(**overrides), headers=alice)
    assert response.status_code == 422, response.text
    assert expected in response.json()["detail"]
    assert response.json()["error"]
    assert count_cases(context) == 0


def test_missing_field_is_named(client: TestClient, alice: dict[str, str]) -> None:
    body = appeal_body()
    del body["tx_hash"]
    response = client.post("/v1/appeals", json=body, headers=alice)
    assert response.status_code == 422
    assert "tx_hash: Field required" in response.json()["detail"]


def test_invalid_json_is_a_422(client: TestClient, alice: dict[str, str]) -> None:
    response = client.post(
        "/v1/appeals",
        content=b'{"case_type": ',
        headers={**alice, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["detail"]


def test_oversize_body_is_refused_before_parsing(
    client: TestClient, alice: dict[str, str], context: AppContext
) -> None:
    body = appeal_body(padding="x" * 20_000)
    response = client.post("/v1/appeals", json=body, headers=alice)
    assert response.status_code == 413
    assert response.json()["error"] == "PayloadTooLarge"
    assert "16384 bytes" in response.json()["detail"]
    assert count_cases(context) == 0


def test_bad_idempotency_key_is_a_422(client: TestClient, alice: dict[str, str]) -> None:
    headers = {**alice, "Idempotency-Key": "x" * 200}
    response = client.post("/v1/appeals", json=appeal_body(), headers=headers)
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["detail"]


def test_unknown_status_filter_is_a_422(client: TestClient, alice: dict[str, str]) -> None:
    response = client.get("/v1/appeals", params={"status": "lost"}, headers=alice)
    assert response.status_code == 422
    assert "status" in response.json()["detail"]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"colour": "blue"}, "colour: unknown field; remove it"),
        ({"owner": ""}, "owner: String should have at least 1 character"),
        ({"owner": "a" * 129}, "owner: String should have at most 128 characters"),
        ({"networks": []}, "networks: List should have at least 1 item"),
        ({"hd_index": True}, "hd_index: Value error, expected an integer, not a boolean"),
        ({"hd_index": -1}, "hd_index: Input should be greater than or equal to 0"),
        ({"hd_index": 2**31}, "hd_index: Input should be less than 2147483648"),
    ],
    ids=lambda v: str(v)[:40] if isinstance(v, dict) else None,
)
def test_a_bad_deposit_address_body_is_a_422_that_says_what_is_wrong(
    client: TestClient, admin: dict[str, str], overrides: dict[str, Any], expected: str
) -> None:
    body = {"address": DEPOSIT, "owner": "alice", "networks": ["ethereum"], **overrides}
    response = client.post("/v1/deposit-addresses", json=body, headers=admin)
    assert response.status_code == 422, response.text
    assert expected in response.json()["detail"]
    listed = client.get("/v1/deposit-addresses", params={"owner": "alice"}, headers=admin)
    assert listed.json()["items"] == []


def test_deposit_address_registration_validates(client: TestClient, admin: dict[str, str]) -> None:
    bad_network = client.post(
        "/v1/deposit-addresses",
        json={"address": DEPOSIT, "owner": "alice", "networks": ["atlantis"]},
        headers=admin,
    )
    assert bad_network.status_code == 422
    assert "unknown network 'atlantis'" in bad_network.json()["detail"]
    bad_address = client.post(
        "/v1/deposit-addresses",
        json={"address": "0xnope", "owner": "alice", "networks": ["ethereum"]},
        headers=admin,
    )
    assert bad_address.status_code == 422
    ok = client.post(
        "/v1/deposit-addresses",
        json={"address": DEPOSIT.lower(), "owner": "alice", "networks": ["ethereum", "bsc"]},
        headers=admin,
    )
    assert ok.status_code == 201
    assert ok.json()["address"] == DEPOSIT
    again = client.post(
        "/v1/deposit-addresses",
        json={"address": DEPOSIT, "owner": "bob", "networks": ["ethereum"]},
        headers=admin,
    )
    assert again.status_code == 409
