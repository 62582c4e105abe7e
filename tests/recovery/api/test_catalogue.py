"""The public network catalogue and the eligibility preview."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.recovery.api.builders import appeal_body


def test_catalogue_is_public_and_lists_16_direct_and_16_conditional(client: TestClient) -> None:
    response = client.get("/v1/networks")
    assert response.status_code == 200
    catalogue = response.json()
    counts = catalogue["counts"]["wrong_network"]
    assert counts["direct"] >= 16
    assert counts["conditional"] >= 16
    assert counts.get("unsupported", 0) >= 1
    by_id = {n["id"]: n for n in catalogue["items"]}
    assert by_id["bsc"]["chain_id"] == 56
    assert by_id["ethereum"]["chain_id"] == 1
    assert by_id["polygon"]["chain_id"] == 137
    usdt = {a["symbol"]: a for a in by_id["ethereum"]["listed_assets"]}["USDT"]
    assert usdt["address"] == "0xdAC17F958D2ee523a2206206994597C13D831ec7"
    assert usdt["decimals"] == 6
    conditional = [n for n in catalogue["items"] if n["wrong_network"]["class"] == "conditional"]
    assert all(n["wrong_network"]["conditions"] for n in conditional)
    assert all(n["wrong_network"]["fee_schedule"] for n in conditional)
    assert catalogue["policy_version"]
    assert len(catalogue["policy_hash"]) == 64


def test_one_network_and_an_unknown_one(client: TestClient) -> None:
    bsc = client.get("/v1/networks/bsc")
    assert bsc.status_code == 200
    assert bsc.json()["native"]["symbol"] == "BNB"
    missing = client.get("/v1/networks/atlantis")
    assert missing.status_code == 404
    assert "known networks:" in missing.json()["detail"]


def test_preview_needs_a_key(client: TestClient) -> None:
    assert client.post("/v1/eligibility", json=appeal_body()).status_code == 401


def test_preview_and_filed_case_with_the_same_facts_get_the_same_verdict(
    client: TestClient, alice: dict[str, str]
) -> None:
    body = appeal_body(claimed_amount=str(3 * 10**18))
    preview = client.post("/v1/eligibility", json=body, headers=alice)
    assert preview.status_code == 200, preview.text
    filed = client.post("/v1/appeals", json=body, headers=alice)
    assert filed.status_code == 201
    assert filed.json()["verdict"] == preview.json()
    assert filed.json()["policy_version"] == preview.json()["policy_version"]
    assert preview.json()["eligible"] is True
    quote = preview.json()["quote"]
    assert int(quote["fee_amount"]) + int(quote["net_amount"]) == 3 * 10**18


def test_preview_of_a_cross_family_pair_is_refused_and_filing_writes_nothing(
    client: TestClient, alice: dict[str, str]
) -> None:
    body = appeal_body(
        network="tron",
        tx_hash="ab" * 32,
        deposit_address="TJRabPrwbZy45sbavfcjinPJC18kjpRTv8",
        refund_address="TJRabPrwbZy45sbavfcjinPJC18kjpRTv8",
        opened_for="ethereum",
    )
    preview = client.post("/v1/eligibility", json=body, headers=alice)
    assert preview.status_code == 200, preview.text
    assert preview.json()["eligible"] is False
    assert set(preview.json()["reason_codes"]) & {"pair_unsupported", "network_unsupported"}


def test_filing_an_unsupported_pair_is_refused_with_its_reason(
    client: TestClient, alice: dict[str, str]
) -> None:
    catalogue = client.get("/v1/networks").json()["items"]
    unsupported = next(
        n
        for n in catalogue
        if n["family"] == "evm" and n["wrong_network"]["class"] == "unsupported"
    )
    body = appeal_body(network=unsupported["id"])
    response = client.post("/v1/appeals", json=body, headers=alice)
    assert response.status_code == 422
    assert response.json()["reason_code"] == "network_unsupported"
    assert client.get("/v1/appeals", headers=alice).json()["items"] == []


def test_an_unlisted_token_appeal_for_a_listed_token_is_refused_as_already_credited(
    client: TestClient, alice: dict[str, str]
) -> None:
    usdt = "0xdAC17F958D2ee523a2206206994597C13D831ec7"  # listed on ethereum
    body = appeal_body(case_type="unlisted_token", network="ethereum", opened_for=None, token=usdt)
    preview = client.post("/v1/eligibility", json=body, headers=alice)
    assert preview.status_code == 200
    assert "already_credited" in preview.json()["reason_codes"]
    filed = client.post("/v1/appeals", json=body, headers=alice)
    assert filed.status_code == 422
    assert filed.json()["reason_code"] == "already_credited"
    assert client.get("/v1/appeals", headers=alice).json()["items"] == []
