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


def test_every_error_response_uses_the_one_error_shape() -> None:
    spec = yaml.safe_load(openapi_yaml())
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    schema = response.get("content", {}).get("application/json", {}).get("schema")
                    if schema is not None:
                        assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (
                            method,
                            path,
                            status,
                        )
