"""Fixtures for API tests: a user with a registered deposit address."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from recovery.access.keys import Role
from tests.recovery.api.builders import DEPOSIT, OTHER_DEPOSIT


@pytest.fixture
def admin(auth) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return auth("ops", Role.ADMIN)  # type: ignore[no-any-return]


@pytest.fixture
def alice(client: TestClient, auth, admin: dict[str, str]) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Alice, whose deposit address was opened for ethereum."""
    response = client.post(
        "/v1/deposit-addresses",
        json={"address": DEPOSIT, "owner": "alice", "networks": ["ethereum"]},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    return auth("alice")  # type: ignore[no-any-return]


@pytest.fixture
def bob(client: TestClient, auth, admin: dict[str, str]) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Bob, with a deposit address of his own."""
    response = client.post(
        "/v1/deposit-addresses",
        json={"address": OTHER_DEPOSIT, "owner": "bob", "networks": ["ethereum"]},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    return auth("bob")  # type: ignore[no-any-return]
