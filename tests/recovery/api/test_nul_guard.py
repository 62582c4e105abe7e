"""A NUL character anywhere in a request is a 422, never a 500 (PostgreSQL text cannot
hold one), and the contract says so on every free-text string."""

from __future__ import annotations

import json

import httpx
import yaml
from fastapi.testclient import TestClient

from recovery.cli import openapi_yaml
from tests.recovery.api.builders import DEPOSIT


def assert_refused(response: httpx.Response, where: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "InvalidInput"
    assert body["detail"].startswith(f"{where} holds a NUL character")


def test_nul_in_a_body_a_path_or_a_query_is_refused(
    client: TestClient, admin: dict[str, str]
) -> None:
    keys = "/v1/admin/keys"
    assert_refused(
        client.post(keys, json={"role": "user", "subject": "a\u0000"}, headers=admin), "the body"
    )
    owner = {"address": DEPOSIT, "owner": "\u0000", "networks": ["ethereum"]}
    assert_refused(client.post("/v1/deposit-addresses", json=owner, headers=admin), "the body")
    assert_refused(client.get("/v1/appeals/%00", headers=admin), "the path")
    assert_refused(
        client.get(keys, params={"subject": "\u0000"}, headers=admin), "a query parameter"
    )
    # The six characters \u0000 are text like any other.
    made = client.post(keys, json={"role": "user", "subject": "\\u0000"}, headers=admin)
    assert made.status_code == 201, made.text
    assert made.json()["subject"] == "\\u0000"
    assert client.get(keys, params={"subject": "\\u0000"}, headers=admin).json()["items"]


def test_nul_is_refused_before_routing_and_authentication(client: TestClient) -> None:
    # No key, and a path no route serves: the NUL is what the caller must fix first.
    assert_refused(client.get("/v1/nowhere/%00"), "the path")
    assert_refused(client.post("/v1/appeals", json={"network": "\u0000"}), "the body")
    assert_refused(client.get("/v1/appeals", params={"a": "b", "c": "\u0000"}), "a query parameter")


def test_nul_in_a_utf16_or_utf32_body_is_refused(client: TestClient, admin: dict[str, str]) -> None:
    document = json.dumps({"role": "user", "subject": "a\u0000b"})
    for encoding in ("utf-16", "utf-32"):
        answer = client.post(
            "/v1/admin/keys",
            content=document.encode(encoding),
            headers={**admin, "content-type": "application/json"},
        )
        assert_refused(answer, "the body")


def test_a_body_that_is_not_json_reaches_the_route(
    client: TestClient, admin: dict[str, str]
) -> None:
    answer = client.post(
        "/v1/admin/keys",
        content=b"not json \\u0000",
        headers={**admin, "content-type": "application/json"},
    )
    assert answer.status_code == 422, answer.text
    assert "holds a NUL" not in answer.json()["detail"]


def test_the_contract_forbids_nul_in_free_text() -> None:
    spec = yaml.safe_load(openapi_yaml())
    # A field with a pattern of its own (a key's subject: not blank) forbids NUL in it.
    subject = spec["components"]["schemas"]["KeyCreate"]["properties"]["subject"]
    assert subject["pattern"] == "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"
    question = spec["components"]["schemas"]["InfoRequest"]["properties"]["question"]
    assert question["pattern"] == "^[^\\u0000]*$"
    parameters = spec["paths"]["/v1/appeals/{case_id}"]["get"]["parameters"]
    (case_id,) = [p for p in parameters if p["name"] == "case_id"]
    assert case_id["schema"]["pattern"] == "^[^\\u0000]*$"
