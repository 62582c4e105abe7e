"""Fixtures shared by the service tests: adapters over the session devnet, a user's flow."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chains.devnet import DevnetCluster
from chains.evm import EvmAdapter
from recovery.api.context import AppContext
from tests.conftest import Clock
from tests.recovery.verification.builders import Flow, make_flow


@pytest.fixture
def adapters(devnet: DevnetCluster) -> Iterator[dict[str, EvmAdapter]]:
    made = {n: devnet.adapter(n) for n in ("ethereum", "bsc")}
    yield made
    for adapter in made.values():
        adapter.close()


@pytest.fixture
def flow(
    context: AppContext, auth: Any, adapters: dict[str, EvmAdapter], clock: Clock
) -> Iterator[Flow]:
    yield from make_flow(context, auth, adapters, clock)
