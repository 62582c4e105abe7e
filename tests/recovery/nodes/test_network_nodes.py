"""Operators see each network's endpoints: state, last head, errors, the highest head."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from chains.devnet import DevnetCluster
from chains.devnet.node import free_port
from chains.evm import EvmAdapter
from recovery.access.keys import Role
from recovery.api.app import create_app
from recovery.api.context import AppContext
from tests.conftest import KeyMaker

pytestmark = pytest.mark.anvil


@pytest.fixture
def bsc(devnet: DevnetCluster) -> Iterator[EvmAdapter]:
    closed = f"http://127.0.0.1:{free_port()}/v3/secret-api-key"
    with EvmAdapter("bsc", [closed, devnet.node("bsc").url], retries=0) as adapter:
        yield adapter


def test_admins_see_each_endpoints_state_and_the_highest_head(
    context: AppContext, auth: KeyMaker, bsc: EvmAdapter, devnet: DevnetCluster
) -> None:
    context.adapters = {"bsc": bsc}
    head = bsc.head()  # the closed endpoint fails, the devnet answers

    with TestClient(create_app(context)) as client:
        response = client.get("/v1/admin/networks", headers=auth("ops", Role.ADMIN))

    assert response.status_code == 200, response.text
    [network] = response.json()["items"]
    assert (network["network"], network["highest_head"], network["failovers"]) == ("bsc", head, 1)
    closed, live = network["endpoints"]
    assert closed["state"] == "unreachable"
    assert (closed["errors"], closed["failures_in_row"]) == (1, 1)
    assert "ConnectError" in closed["last_error"]
    assert closed["endpoint"].endswith("/…"), "a URL's path may hold an API key"
    assert "secret-api-key" not in response.text
    assert live["state"] == "alive"
    assert (live["endpoint"], live["last_head"], live["errors"]) == (
        devnet.node("bsc").url,
        head,
        0,
    )


def test_only_admins_see_endpoint_states(
    context: AppContext, auth: KeyMaker, bsc: EvmAdapter
) -> None:
    context.adapters = {"bsc": bsc}
    with TestClient(create_app(context)) as client:
        reviewer = client.get("/v1/admin/networks", headers=auth("rita", Role.REVIEWER))
        nobody = client.get("/v1/admin/networks")

    assert reviewer.status_code == 403
    assert nobody.status_code == 401
