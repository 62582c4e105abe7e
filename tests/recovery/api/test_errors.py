"""Every error keeps the promise of the contract: its class name and a stable reason_code."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from recovery.api.app import create_app
from recovery.api.context import AppContext
from recovery.api.errors import DECLARED
from recovery.cli import openapi_yaml
from recovery.errors import RecoveryError
from tests.recovery.api.builders import appeal_body

SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
SPEC: dict[str, Any] = yaml.safe_load(openapi_yaml())
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]


def _refs(schema: dict[str, Any]) -> list[str]:
    branches = schema.get("oneOf", [schema])
    return [branch["$ref"].rsplit("/", 1)[-1] for branch in branches]


def error_classes_in_spec() -> dict[str, set[int]]:
    """Every error class some operation of openapi.yaml answers with, and its statuses."""
    found: dict[str, set[int]] = {}
    for operations in SPEC["paths"].values():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    for name in _refs(schema):
                        found.setdefault(name, set()).add(int(status))
    return found


def declared_codes(name: str) -> list[str]:
    reason = SCHEMAS[name]["properties"]["reason_code"]
    return [reason["const"]] if "const" in reason else list(reason["enum"])


def test_every_error_class_in_the_spec_declares_a_snake_case_reason_code() -> None:
    classes = error_classes_in_spec()
    assert {"InvalidInput", "Unauthorized", "CaseNotFound", "DuplicateClaim"} <= set(classes)
    codes_by_class: dict[str, list[str]] = {}
    for name in classes:
        schema = SCHEMAS[name]
        assert schema["properties"]["error"] == {"const": name}
        assert set(schema["required"]) == {"error", "detail", "reason_code"}
        codes = declared_codes(name)
        assert codes, name
        assert all(SNAKE.match(code) for code in codes), (name, codes)
        codes_by_class[name] = codes
    # One code names one class: the class's own codes are not shared with another class.
    owners: dict[str, str] = {}
    for name, codes in codes_by_class.items():
        own = codes[0]
        assert owners.setdefault(own, name) == name, (
            f"{own} is the code of {owners[own]} and {name}"
        )


@pytest.fixture
def raising_client(context: AppContext) -> TestClient:
    """The app with one extra route that raises the named error class with a given code."""
    app = create_app(context)

    @app.get("/raise/{name}")
    def _raise(name: str, code: str | None = None) -> None:
        raise DECLARED[name]("a detail that says what is wrong", reason_code=code)

    return TestClient(app)


def test_every_error_class_in_the_spec_renders_its_reason_code_at_runtime(
    raising_client: TestClient,
) -> None:
    for name, statuses in error_classes_in_spec().items():
        error: type[RecoveryError] = DECLARED[name]
        assert statuses == {error.status_code}, name
        for code in declared_codes(name):
            response = raising_client.get(f"/raise/{name}", params={"code": code})
            assert response.status_code == error.status_code, name
            assert response.json() == {
                "error": name,
                "detail": "a detail that says what is wrong",
                "reason_code": code,
            }


def test_request_validation_and_the_services_checks_share_the_name_invalid_input(
    client: TestClient, alice: dict[str, str]
) -> None:
    by_pydantic = client.post("/v1/appeals", json=appeal_body(case_type="lost"), headers=alice)
    by_service = client.get("/v1/appeals", params={"cursor": "bm90LWEtY3Vyc29y"}, headers=alice)
    for response in (by_pydantic, by_service):
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "InvalidInput"
        assert response.json()["reason_code"] == "invalid_input"
    assert "case_type" in by_pydantic.json()["detail"]
    assert "cursor" in by_service.json()["detail"]


def test_an_unreadable_body_is_invalid_input(client: TestClient, alice: dict[str, str]) -> None:
    response = client.post(
        "/v1/appeals",
        content=b"\xff\xfe{",
        headers={**alice, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["reason_code"] == "invalid_input"
    assert "UTF-8 JSON" in response.json()["detail"]


def test_a_wrong_method_is_405_with_allow(client: TestClient) -> None:
    response = client.request("TRACE", "/v1/networks")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    assert response.json()["error"] == "MethodNotAllowed"
    assert response.json()["reason_code"] == "method_not_allowed"
    assert "TRACE" in response.json()["detail"]


def test_routing_auth_and_size_errors_carry_reason_codes(
    client: TestClient, alice: dict[str, str]
) -> None:
    missing = client.get("/v1/nothing-here", headers=alice)
    assert (missing.status_code, missing.json()["reason_code"]) == (404, "not_found")
    anonymous = client.get("/v1/appeals")
    assert (anonymous.status_code, anonymous.json()["reason_code"]) == (401, "unauthorized")
    large = client.post(
        "/v1/appeals",
        content=b"{" + b" " * 20_000 + b"}",
        headers={**alice, "Content-Type": "application/json"},
    )
    assert (large.status_code, large.json()["reason_code"]) == (413, "payload_too_large")


def test_an_overlong_authorization_header_is_a_401_that_says_so(client: TestClient) -> None:
    response = client.get("/v1/appeals", headers={"Authorization": "Bearer rk_" + "a" * 600})
    assert (response.status_code, response.json()["reason_code"]) == (401, "unauthorized")
    assert "longer than 512 characters" in response.json()["detail"]
