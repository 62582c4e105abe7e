"""openapi.yaml is generated from the app; this fails when they drift apart."""

from __future__ import annotations

from pathlib import Path

import yaml

from recovery.cli import openapi_yaml

SPEC = Path(__file__).parents[3] / "openapi.yaml"


def test_openapi_yaml_matches_the_app() -> None:
    generated = openapi_yaml()
    assert SPEC.exists(), "openapi.yaml is missing: run `make openapi`"
    assert yaml.safe_load(SPEC.read_text()) == yaml.safe_load(generated), (
        "openapi.yaml is out of date: run `make openapi` and commit it"
    )


def test_the_appeal_body_is_the_policys() -> None:
    schemas = yaml.safe_load(openapi_yaml())["components"]["schemas"]
    appeal = schemas["AppealCreate"]
    assert appeal["discriminator"]["propertyName"] == "case_type"
    evm = schemas["WrongNetworkEvmAppeal"]["properties"]
    assert "ethereum" in evm["network"]["enum"]
    assert "tron" not in evm["network"]["enum"]
    assert evm["tx_hash"]["pattern"] == "^0x[0-9a-fA-F]{64}$"
    assert evm["deposit_address"]["pattern"] == "^0x[0-9a-fA-F]{40}$"
    assert "tron" in schemas["NetworkId"]["enum"]
    deposit = schemas["DepositAddressCreateEvm"]["properties"]
    assert deposit["networks"]["items"]["enum"] == evm["network"]["enum"]


def test_bearer_keys_are_the_contracts_security_scheme_not_a_header_parameter() -> None:
    spec = yaml.safe_load(openapi_yaml())
    scheme = spec["components"]["securitySchemes"]["ApiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    secured = {
        (method, path)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if operation.get("security") == [{"ApiKey": []}]
    }
    assert ("get", "/v1/appeals/{case_id}") in secured
    assert ("post", "/v1/appeals") in secured
    assert ("get", "/healthz") not in secured
    headers = [
        parameter["name"].lower()
        for operations in spec["paths"].values()
        for operation in operations.values()
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "header"
    ]
    assert "authorization" not in headers
