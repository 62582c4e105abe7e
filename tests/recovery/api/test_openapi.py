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
