"""Bad cursors and path parameters get a 4xx that says what is wrong, never a 500."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from recovery.api.app import create_app
from recovery.api.context import AppContext

WEIRD = [
    "9223372036854775808",  # 2^63: past SQLite's integers
    "9" * 40,
    "-1",
    "0",
    "1e9",
    "n9223372036854775808",
    "k99999999999999999999",
    "%00",
    "..",
    "\u0661\u0662\u0663",  # Arabic-Indic digits match \d but not [0-9]
    "é" * 10,
    "x" * 300,
]


@pytest.mark.parametrize("path", ["/v1/appeals", "/v1/admin/keys"])
@pytest.mark.parametrize("cursor", WEIRD)
def test_a_cursor_that_is_not_ours_is_a_clear_4xx(
    client: TestClient, admin: dict[str, str], alice: dict[str, str], path: str, cursor: str
) -> None:
    headers = admin if path.startswith("/v1/admin") else alice
    response = client.get(path, params={"cursor": cursor}, headers=headers)
    assert response.status_code == 422, response.text
    assert "cursor" in response.json()["detail"]
    # The connection still serves the next request.
    assert client.get(path, headers=headers).status_code == 200


def _routes(context: AppContext) -> list[tuple[str, str]]:
    """Every operation with a path parameter, as the contract lists them."""
    paths = create_app(context).openapi()["paths"]
    return [
        (method.upper(), path)
        for path, operations in sorted(paths.items())
        if "{" in path
        for method in sorted(operations)
    ]


def test_every_path_parameter_survives_any_value(
    context: AppContext, admin: dict[str, str], alice: dict[str, str], client: TestClient
) -> None:
    routes = _routes(context)
    assert len(routes) >= 15, routes
    for method, path in routes:
        for value in WEIRD:
            url = re.sub(r"\{[^}]+\}", value.replace("/", "%2F"), path)
            for headers in (admin, alice):
                response = client.request(method, url, json={}, headers=headers)
                assert response.status_code < 500, (method, url, response.text)
                assert response.json()["detail"], (method, url)


def test_a_nul_character_in_a_body_is_refused_and_nothing_is_stored(
    client: TestClient, admin: dict[str, str]
) -> None:
    response = client.post(
        "/v1/admin/keys", json={"role": "user", "subject": "eve\u0000"}, headers=admin
    )
    assert response.status_code == 422, response.text
    assert "NUL character" in response.json()["detail"]
    keys = client.get("/v1/admin/keys", headers=admin).json()["items"]
    assert [k for k in keys if k["subject"].startswith("eve")] == []
